"""Page faults by the code that caused them.

Reads `perf script` of a `perf record -e page-faults -g` run (benches/profile.sh --held N
--faults) on stdin and prints, per site, the KiB per held stream (each fault is one 4 KiB page
becoming resident). A sample's site is its first frame outside the allocator and the standard
library's generic code: the function whose `Box::pin`, `Vec::with_capacity` or write the page
came from.

    perf script -i RUN/faults.data | python3 benches/fault_sites.py 1000
"""

import collections
import re
import sys

ALLOCATOR_OR_GENERIC = re.compile(
    r"^(mi_|_mi_|__rust_|__libc|__mem|malloc|calloc|realloc|memset|memcpy|memmove|alloc|"
    r"<alloc::|core::|<core::|std::|<std::|bytes::|<bytes::|hashbrown|<hashbrown|tokio::runtime|"
    r"<tokio::runtime|box_new|new<|pin<|with_capacity|try_allocate|allocate|from_elem|reserve|"
    r"do_reserve|grow|finish_grow|raw_vec|RawVec|to_vec|to_owned|clone|from<|into|collect|"
    r"extend|push|insert|spec_|<T as|map<|poll|\{|\[unknown\]|0x)"
)


def site(chain):
    for frame in chain:
        if not ALLOCATOR_OR_GENERIC.match(frame):
            return frame[:150]
    return chain[0][:150]


def samples(lines):
    chain = []
    for line in lines:
        line = line.rstrip("\n")
        if line.startswith(("\t", " ")) and line.strip():
            parts = line.strip().split(None, 1)
            if len(parts) == 2:
                frame = parts[1].rsplit(" (", 1)[0]
                chain.append(re.sub(r"\+0x[0-9a-f]+$", "", frame))
        elif chain:
            yield chain
            chain = []
    if chain:
        yield chain


def main():
    streams = int(sys.argv[1]) if len(sys.argv) > 1 else 1
    counts = collections.Counter(site(chain) for chain in samples(sys.stdin))
    total = sum(counts.values())
    print(f"{total} faults recorded = {total * 4 / streams:.1f} KiB per stream over {streams}")
    for name, count in counts.most_common(40):
        print(f"{count * 4 / streams:7.2f} KiB  {name}")


if __name__ == "__main__":
    main()
