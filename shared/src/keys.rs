//! API keys (`sk-...`): how they are made and how a presented key is found. A key is `sk-`
//! followed by 48 characters of [A-Za-z0-9]; only the SHA-256 of those 48 characters is indexed
//! (the owner can reveal the key again from its encrypted copy, see `crypto::seal`).

use crate::crypto::{random_alphanumeric, sha256_hex};

/// The prefix every API key carries.
pub const KEY_PREFIX: &str = "sk-";
/// Length of the random part of a key.
pub const KEY_BODY_LEN: usize = 48;

/// A newly generated key: the full text to show once, and the hash to store.
pub struct GeneratedKey {
    /// `sk-` + 48 random characters.
    pub full: String,
    /// What `tokens.key_hash` holds.
    pub hash: String,
}

/// Makes a new random key.
pub fn generate() -> GeneratedKey {
    let body = random_alphanumeric(KEY_BODY_LEN);
    GeneratedKey {
        hash: sha256_hex(body.as_bytes()),
        full: format!("{KEY_PREFIX}{body}"),
    }
}

/// The lookup hash of a key as a client presents it, with or without `sk-`.
pub fn lookup_hash(presented: &str) -> String {
    let body = presented.strip_prefix(KEY_PREFIX).unwrap_or(presented);
    sha256_hex(body.as_bytes())
}

/// The key as lists show it: `sk-abcd**********wxyz`.
pub fn mask(full: &str) -> String {
    let body = full.strip_prefix(KEY_PREFIX).unwrap_or(full);
    let chars: Vec<char> = body.chars().collect();
    if chars.len() <= 8 {
        return format!("{KEY_PREFIX}{}", "*".repeat(chars.len()));
    }
    let head: String = chars[..4].iter().collect();
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{KEY_PREFIX}{head}**********{tail}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_are_found_with_or_without_prefix() {
        let key = generate();
        assert!(key.full.starts_with("sk-"));
        assert_eq!(key.full.len(), 3 + KEY_BODY_LEN);
        assert_eq!(lookup_hash(&key.full), key.hash);
        assert_eq!(lookup_hash(&key.full[3..]), key.hash);
        assert_ne!(lookup_hash("sk-other"), key.hash);
    }

    #[test]
    fn masks_the_middle() {
        assert_eq!(mask("sk-abcdefghijklmnop"), "sk-abcd**********mnop");
        assert_eq!(mask("sk-abc"), "sk-***");
    }
}
