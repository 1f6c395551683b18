//! Generated content: the deterministic text of each chunk (short words, or filler padded to
//! `response_bytes`) and base64 for binary payloads. All ASCII without quotes or backslashes,
//! so it can be spliced into pre-rendered JSON without escaping.

const WORDS: [&str; 16] = [
    "Hello",
    " from",
    " the",
    " mock",
    " upstream",
    ",",
    " one",
    " token",
    " per",
    " chunk",
    " and",
    " nothing",
    " more",
    " to",
    " say",
    ".",
];

const FILLER: &[u8] = b"lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod ";

/// The text of content chunk `index`: a word, or `size` bytes of filler when padding.
pub(crate) fn chunk_text(index: u32, size: usize) -> String {
    if size == 0 {
        return WORDS[index as usize % WORDS.len()].to_string();
    }
    // Continue the filler where the previous chunk stopped, so the whole answer reads evenly.
    let offset = (index as usize).wrapping_mul(size) % FILLER.len();
    FILLER
        .iter()
        .cycle()
        .skip(offset)
        .take(size)
        .map(|&b| b as char)
        .collect()
}

/// The whole answer a non-streamed response carries: every chunk joined.
pub(crate) fn full_text(chunks: u32, size: usize) -> String {
    (0..chunks).map(|i| chunk_text(i, size)).collect()
}

/// Standard base64 with padding.
pub(crate) fn base64(data: &[u8]) -> String {
    const TABLE: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for group in data.chunks(3) {
        let b = [
            group[0],
            group.get(1).copied().unwrap_or(0),
            group.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for (i, shift) in [18, 12, 6, 0].into_iter().enumerate() {
            if i <= group.len() {
                out.push(TABLE[((n >> shift) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn padded_chunks_have_the_requested_size() {
        assert_eq!(chunk_text(3, 0), " mock");
        assert_eq!(chunk_text(7, 100).len(), 100);
        assert_eq!(full_text(4, 25).len(), 100);
        assert!(full_text(3, 0).starts_with("Hello from the"));
    }

    #[test]
    fn base64_matches_the_rfc_vectors() {
        for (input, expected) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(input.as_bytes()), expected);
        }
    }
}
