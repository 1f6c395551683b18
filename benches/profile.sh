#!/usr/bin/env bash
# Profiles Pylon's request path: starts the mock upstream and Pylon on a fresh SQLite file
# (both on core 0, one proxy thread; the load client alone on core 1), sets it up through its
# API, drives it with pylon-load in a closed loop, and records the proxy with `perf record -g`
# while the load runs. Prints the top of the report and leaves perf.data in the run directory
# for `perf report -i` or a flame graph.
#
#   cargo build --release --bins && bash benches/profile.sh [--stream] [--connections N] [--seconds S]
#
# With --strace it counts the proxy's system calls instead (strace -c), to divide by requests.
# With --cpu it records nothing and prints the proxy's CPU µs per request (utime + stime from
# /proc over the measured window, divided by the requests answered in it): a quick A/B of one
# setting, e.g. PYLON__SERVER__WORK_STEALING=true bash benches/profile.sh --cpu. PYLON_BIN_DIR points
# it at other binaries (a copy of another commit's release build, for an A/B of two commits).
# With --held N it holds N streams open at once (the mock sends a chunk a second, 20 in all)
# and prints the proxy's memory per held stream: (peak RSS - RSS before) / N. E.g. the
# upstream over HTTP/2: PYLON__RELAY__UPSTREAM_HTTP2=prior_knowledge bash benches/profile.sh --held 1000
# With --faults (beside --held) it also records the proxy's page faults while the streams open
# (`perf record -e page-faults`, every fault, with call graphs) and prints where they happen: a
# fault is a page becoming resident, so this names the code whose memory the RSS growth is.
#
# With --rate R it offers R requests per second in an open loop for --seconds (2 s timeout, at
# most 1024 in flight: pylon-compare's overload run) and prints what was answered, what was shed
# and how the scheduling delay the shedding follows was spread over the run.
#
# PROFILE_MOCK_ARGS adds arguments to the mock's command line, e.g. paced streams as
# pylon-compare's: PROFILE_MOCK_ARGS="--ttft-ms 200 --chunks 200 --chunk-interval-ms 20".
#
# With --backend mysql it runs on a fresh MariaDB database (dropped at the end) and Redis
# (a fresh key prefix) instead of SQLite, from PROFILE_MYSQL (default root@127.0.0.1:3306) and
# PROFILE_REDIS (default redis://127.0.0.1:6379); --cpu then also prints the CPU per request of
# mariadbd and redis-server over the same window (whole processes: keep the machine quiet).
#
# With --system floor|local|nginx it runs something else than Pylon in Pylon's place, with the
# same mock, core and load (every mode works; --rate has no shedding to report): `floor` is pingora-floor, a
# plain Pingora reverse proxy to the mock (Pingora's own cost per relayed request); `local` is
# pingora-floor answering every request itself (the downstream half alone); `nginx` is nginx
# configured as pylon-compare's floor (one worker, upstream keep-alive, no access log).
#
# Everything runs on loopback and stops when the script ends.
set -euo pipefail

connections=8
seconds=10
stream=""
strace=""
cpu=""
held=""
faults=""
rate=""
backend=sqlite
system=pylon
while [[ $# -gt 0 ]]; do
    case "$1" in
        --stream) stream="--stream"; shift ;;
        --strace) strace=1; shift ;;
        --cpu) cpu=1; shift ;;
        --held) held="$2"; stream="--stream"; connections="$2"; seconds=20; shift 2 ;;
        --faults) faults=1; shift ;;
        --rate) rate="$2"; shift 2 ;;
        --connections) connections="$2"; shift 2 ;;
        --seconds) seconds="$2"; shift 2 ;;
        --backend) backend="$2"; shift 2 ;;
        --system) system="$2"; shift 2 ;;
        *) echo "usage: $0 [--stream] [--strace] [--cpu] [--held N [--faults]] [--rate R] [--connections N] [--seconds S] [--backend sqlite|mysql] [--system pylon|floor|local|nginx]" >&2; exit 2 ;;
    esac
done

root="$(cd "$(dirname "$0")/.." && pwd)"
bin="${PYLON_BIN_DIR:-$root/target/release}"
case "$system" in
    pylon|floor|local|nginx) ;;
    *) echo "--system is pylon, floor, local or nginx" >&2; exit 2 ;;
esac
for b in pylon-proxy pylon-control-plane mock-upstream pylon-load pingora-floor; do
    [[ -x "$bin/$b" ]] || { echo "missing $bin/$b: run cargo build --release --bins" >&2; exit 1; }
done
if [[ -z "$cpu$held$strace$rate" ]]; then
    command -v perf >/dev/null || { echo "perf is needed (apt-get install linux-perf)" >&2; exit 1; }
fi

run="$(mktemp -d /tmp/pylon-profile.XXXXXX)"
pids=()
database_url="sqlite://data/pylon.db"
redis_url=""
schema=""
case "$backend" in
    sqlite) ;;
    mysql)
        mysql_at="${PROFILE_MYSQL:-root@127.0.0.1:3306}"
        schema="pylon_profile_$(basename "$run" | tr -dc 'a-zA-Z0-9' | tr 'A-Z' 'a-z')"
        mysql -u"${mysql_at%%@*}" -h"$(echo "${mysql_at#*@}" | cut -d: -f1)" \
            -P"$(echo "$mysql_at" | cut -d: -f2)" -e "CREATE DATABASE $schema"
        database_url="mysql://$mysql_at/$schema"
        redis_url="${PROFILE_REDIS:-redis://127.0.0.1:6379}"
        ;;
    *) echo "--backend is sqlite or mysql" >&2; exit 2 ;;
esac
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    if [[ -n "$schema" ]]; then
        mysql -u"${mysql_at%%@*}" -h"$(echo "${mysql_at#*@}" | cut -d: -f1)" \
            -P"$(echo "$mysql_at" | cut -d: -f2)" -e "DROP DATABASE IF EXISTS $schema" || true
    fi
}
trap cleanup EXIT

port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
mock_port=$(port); proxy_port=$(port); metrics_port=$(port); control_port=$(port)

taskset -c 0 "$bin/mock-upstream" --listen "127.0.0.1:$mock_port" --threads 1 \
    --ttft-ms 0 --chunks 20 ${held:+--chunk-interval-ms 1000} ${PROFILE_MOCK_ARGS:-} >"$run/mock.log" 2>&1 &
mock_pid=$!
pids+=("$mock_pid")
case "$system" in
pylon)
(
    cd "$run"
    PYLON__SERVER__LISTEN="127.0.0.1:$proxy_port" \
    PYLON__SERVER__METRICS_LISTEN="127.0.0.1:$metrics_port" \
    PYLON__SERVER__THREADS=1 \
    PYLON__CONTROL_PLANE__LISTEN="127.0.0.1:$control_port" \
    PYLON__DATA__DIR="$run/data" \
    PYLON__DATABASE__URL="$database_url" \
    PYLON__CACHE__REDIS_URL="$redis_url" \
    PYLON__CACHE__KEY_PREFIX="${schema:-pylon}:" \
    exec taskset -c 0 "$bin/pylon-proxy"
) >"$run/pylon.log" 2>&1 &

;;
floor | local)
    if [[ "$system" == floor ]]; then to=(--route "127.0.0.1:$proxy_port=127.0.0.1:$mock_port"); else to=(--local "127.0.0.1:$proxy_port"); fi
    taskset -c 0 "$bin/pingora-floor" "${to[@]}" --threads 1 \
        >"$run/pylon.log" 2>&1 &
    ;;
nginx)
    mkdir -p "$run/nginx"
    sed -e "s#{{DIR}}#$run/nginx#g" -e "s#master_process on#master_process off#" "$root/benches/config/nginx.conf" | python3 -c "
import sys
server = open('$root/benches/config/nginx-server.conf').read()
server = server.replace('{{NAME}}', 'mock').replace('{{UPSTREAM}}', '127.0.0.1:$mock_port').replace('{{LISTEN}}', '127.0.0.1:$proxy_port')
sys.stdout.write(sys.stdin.read().replace('{{SERVERS}}', server))" >"$run/nginx/nginx.conf"
    taskset -c 0 nginx -c "$run/nginx/nginx.conf" -p "$run/nginx" >"$run/pylon.log" 2>&1 &
    ;;
esac
proxy_pid=$!
pids+=("$proxy_pid")
base="http://127.0.0.1:$proxy_port"
if [[ "$system" != pylon ]]; then
    # Not Pylon: no account to set up; any key will do.
    key="sk-floor"
    for _ in $(seq 1 100); do
        curl -s -o /dev/null "$base/" 2>/dev/null && break
        sleep 0.1
    done
else
    for _ in $(seq 1 300); do
        curl -sf "$base/api/status" >/dev/null 2>&1 && break
        sleep 0.1
    done
    jar="$run/cookies"
    call() { # method path json
        curl -sf -b "$jar" -c "$jar" -X "$1" "$base$2" -H 'Content-Type: application/json' \
            ${user_id:+-H "New-Api-User: $user_id"} ${3:+-d "$3"}
    }
    password="profile-root-password"
    call POST /api/setup "{\"username\":\"root\",\"password\":\"$password\",\"confirmPassword\":\"$password\"}" >/dev/null
    user_id=$(call POST /api/user/login "{\"username\":\"root\",\"password\":\"$password\"}" | jq -r .data.id)
    call PUT /api/option/ '{"key":"ModelRatio","value":"{\"bench-json\":1}"}' >/dev/null
    call PUT /api/user/ "{\"id\":$user_id,\"quota\":100000000000000}" >/dev/null
    call POST /api/channel/ "{\"mode\":\"single\",\"channel\":{\"type\":1,\"name\":\"mock\",\"key\":\"upstream-key\",\"base_url\":\"http://127.0.0.1:$mock_port\",\"models\":\"bench-json\",\"group\":\"default\"}}" >/dev/null
    call POST /api/token/ '{"name":"profile","expired_time":-1,"remain_quota":0,"unlimited_quota":true}' >/dev/null
    token_id=$(call GET '/api/token/?p=1&page_size=10' | jq -r '.data.items[0].id')
    key=$(call POST "/api/token/$token_id/key" '{}' | jq -r .data.key)
    [[ "$key" == sk-* ]] || key="sk-$key"
    for _ in $(seq 1 100); do
        [[ "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $key" "$base/v1/models/bench-json")" == 200 ]] && break
        sleep 0.1
    done
fi

if [[ -n "$held" ]]; then
    ulimit -n 65536 2>/dev/null || true
    rss() { awk '/VmRSS/ {print $2}' "/proc/$proxy_pid/status"; }
    before=$(rss)
    if [[ -n "$faults" ]]; then
        perf record -e page-faults -c 1 -m 4096 -g --call-graph "${PERF_CALL_GRAPH:-dwarf,8192}" \
            -p "$proxy_pid" -o "$run/faults.data" >"$run/perf.log" 2>&1 &
        perf_pid=$!
        sleep 1
    fi
    taskset -c 1 "$bin/pylon-load" --url "$base/v1/chat/completions" --key "$key" --model bench-json \
        --mode closed --concurrency "$held" --duration 15 --max-requests "$held" --stream \
        >"$run/load.txt" 2>&1 &
    load_pid=$!
    peak=$before
    started=$SECONDS
    : >"$run/rss.txt"
    while kill -0 "$load_pid" 2>/dev/null; do
        now=$(rss); (( now > peak )) && peak=$now
        echo "$((SECONDS - started)) $now" >>"$run/rss.txt"
        sleep 0.2
    done
    cat "$run/load.txt"
    python3 -c "print(f'proxy RSS {$before} KiB before, {$peak} KiB at the peak: {($peak-$before)/$held:.1f} KiB per held stream ({$held} streams)')"
    # The streams are all open from a few seconds after the burst until their 20th chunk: the
    # RSS then (median of the samples between 5 s and 15 s) is what they hold once opening them
    # (connect futures, request buffers freed after use) is over.
    python3 - "$run/rss.txt" "$before" "$held" <<'PY'
import statistics, sys
samples = [tuple(map(int, l.split())) for l in open(sys.argv[1]) if l.strip()]
before, held = int(sys.argv[2]), int(sys.argv[3])
steady = [rss for t, rss in samples if 5 <= t <= 15]
if steady:
    rss = statistics.median(steady)
    print(f"proxy RSS {rss:.0f} KiB while all are held (5-15 s): {(rss - before) / held:.1f} KiB per held stream")
PY
    if [[ -n "$faults" ]]; then
        kill -INT "$perf_pid"; wait "$perf_pid" || true
        grep -h "lost" "$run/perf.log" || true
        echo "by site, KiB per held stream:"
        perf script -i "$run/faults.data" 2>/dev/null | python3 "$root/benches/fault_sites.py" "$held" | head -25
        echo "full report: perf report -i $run/faults.data"
    fi
    exit 0
fi
scrape() { curl -s "http://127.0.0.1:$metrics_port/metrics" \
    | grep -E '^pylon_proxy_relay_(shed_total|scheduling_delay_seconds_(bucket|count))' || true; }
# What was shed and how the scheduling delay was spread between two scrapes.
shedding_report() {
    python3 - "$1" "$2" <<'PY'
import sys
def read(path):
    out = {}
    for line in open(path):
        name, value = line.rsplit(' ', 1)
        out[name] = float(value)
    return out
before, after = read(sys.argv[1]), read(sys.argv[2])
diff = {k: v - before.get(k, 0) for k, v in after.items()}
for name, value in sorted(diff.items()):
    if 'shed_total' in name and value:
        print(f"shed {name.split('reason=')[1].rstrip('}')}: {value:.0f}")
samples = diff.get('pylon_proxy_relay_scheduling_delay_seconds_count', 0)
print(f"scheduling delay over {samples:.0f} samples (share at or below each bound):")
below = sorted((float(k.split('le="')[1].split('"')[0]), v) for k, v in diff.items() if '_bucket' in k)
print('  ' + ', '.join(f"{'inf' if b == float('inf') else f'{b*1000:g} ms'}: {v / samples:.0%}" for b, v in below if samples))
PY
}
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
if [[ -n "$rate" ]]; then
    scrape >"$run/metrics.before"
    cpu_before=("$(ticks "$proxy_pid")" "$(ticks "$mock_pid")")
    started=$(date +%s.%N)
    taskset -c 1 "$bin/pylon-load" --url "$base/v1/chat/completions" --key "$key" --model bench-json \
        --mode open --rate "$rate" --duration "$seconds" --timeout-ms 2000 $stream >"$run/load.txt" 2>&1 || true
    python3 -c "
import sys; hz = $(getconf CLK_TCK); wall = $(date +%s.%N) - $started
print(f'over {wall:.1f} s: proxy {($(ticks "$proxy_pid") - ${cpu_before[0]}) / hz / wall:.0%} of a core, mock {($(ticks "$mock_pid") - ${cpu_before[1]}) / hz / wall:.0%}')"
    scrape >"$run/metrics.after"
    cat "$run/load.txt"
    shedding_report "$run/metrics.before" "$run/metrics.after"
    exit 0
fi
echo "profiling pid $proxy_pid for ${seconds}s at $connections connections ${stream:+(streams)}; run directory $run"
taskset -c 1 "$bin/pylon-load" --url "$base/v1/chat/completions" --key "$key" --model bench-json \
    --mode closed --concurrency "$connections" --warmup 2 --duration "$((seconds + 2))" $stream \
    >"$run/load.txt" 2>&1 &
load_pid=$!
sleep 2
if [[ -n "$strace" ]]; then
    timeout -s INT "$seconds" strace ${STRACE_ARGS:--c} -f -p "$proxy_pid" -o "$run/strace.txt" || true
    wait "$load_pid" || true
    cat "$run/load.txt"
    head -25 "$run/strace.txt"
    exit 0
fi
if [[ -n "$cpu" ]]; then
    others=()
    if [[ "$backend" == mysql ]]; then
        others=("mariadbd:$(pgrep -x mariadbd | head -1)" "redis-server:$(pgrep -x redis-server | head -1)")
    fi
    scrape >"$run/metrics.before"
    before=$(ticks "$proxy_pid")
    others_before=()
    for o in "${others[@]}"; do others_before+=("$(ticks "${o#*:}")"); done
    sleep "$seconds"
    after=$(ticks "$proxy_pid")
    scrape >"$run/metrics.after"
    others_after=()
    for o in "${others[@]}"; do others_after+=("$(ticks "${o#*:}")"); done
    wait "$load_pid" || true
    cat "$run/load.txt"
    rps=$(grep -o '[0-9.]* ok/s' "$run/load.txt" | head -1 | cut -d' ' -f1)
    hz=$(getconf CLK_TCK)
    python3 -c "t=($after-$before)/$hz; r=$rps*$seconds; print(f'proxy CPU: {t:.2f} s over {$seconds} s at {$rps} req/s = {t*1e6/r:.1f} µs per request')"
    for i in "${!others[@]}"; do
        python3 -c "t=(${others_after[$i]}-${others_before[$i]})/$hz; r=$rps*$seconds; print(f'${others[$i]%%:*} CPU: {t:.2f} s = {t*1e6/r:.1f} µs per request')"
    done
    shedding_report "$run/metrics.before" "$run/metrics.after"
    exit 0
fi
perf record -F 1999 -g --call-graph "${PERF_CALL_GRAPH:-dwarf,16384}" -p "$proxy_pid" -o "$run/perf.data" -- sleep "$seconds" \
    >"$run/perf.log" 2>&1
wait "$load_pid" || true
cat "$run/load.txt"
perf report -i "$run/perf.data" --no-children --percent-limit 0.7 --stdio --sort dso,symbol \
    -g none 2>/dev/null | grep -v '^$' | head -70
echo "full report: perf report -i $run/perf.data"
