//! Passwords, random secrets and digests. Passwords use Argon2id (slow by design); high-entropy
//! tokens (API keys, access tokens, session ids) are looked up by their SHA-256, which is enough
//! because they cannot be guessed, and compared in constant time.

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{ChaCha20Poly1305, Nonce};
use rand::Rng;
use rand::distr::Alphanumeric;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Hashes a password into a PHC string (Argon2id, default parameters).
pub fn hash_password(password: &str) -> Result<String, argon2::password_hash::Error> {
    let mut salt_bytes = [0u8; 16];
    rand::rng().fill(&mut salt_bytes);
    let salt = SaltString::encode_b64(&salt_bytes)?;
    Ok(Argon2::default()
        .hash_password(password.as_bytes(), &salt)?
        .to_string())
}

/// True when `password` matches the PHC string `stored`. A malformed `stored` never matches.
pub fn verify_password(password: &str, stored: &str) -> bool {
    match PasswordHash::new(stored) {
        Ok(parsed) => Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

/// A hash to verify against when the account does not exist, so that the time a login takes
/// does not reveal whether the account exists.
pub fn decoy_password_hash() -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| hash_password("decoy password for timing").unwrap_or_default())
}

/// `len` random characters from [A-Za-z0-9].
pub fn random_alphanumeric(len: usize) -> String {
    rand::rng()
        .sample_iter(&Alphanumeric)
        .take(len)
        .map(char::from)
        .collect()
}

/// Lower-case hex SHA-256 of `input`.
pub fn sha256_hex(input: &[u8]) -> String {
    hex::encode(Sha256::digest(input))
}

/// Equality that takes the same time wherever the inputs differ.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.ct_eq(b).into()
}

/// Hex-encoded HMAC-SHA256 of `message` under `secret` (Stripe, Creem and Telegram's login
/// widget sign this way).
pub fn hmac_sha256_hex(secret: &[u8], message: &[u8]) -> String {
    use hmac::{Hmac, Mac};
    // HMAC accepts keys of any length, so this never fails.
    let mut mac = match <Hmac<Sha256> as Mac>::new_from_slice(secret) {
        Ok(mac) => mac,
        Err(_) => return String::new(),
    };
    mac.update(message);
    hex::encode(mac.finalize().into_bytes())
}

/// Length of the random nonce that starts every sealed value.
const NONCE_LEN: usize = 12;

fn cipher_for(secret: &str) -> ChaCha20Poly1305 {
    let key = Sha256::digest(secret.as_bytes());
    ChaCha20Poly1305::new(&key)
}

/// Encrypts `plaintext` (ChaCha20-Poly1305, key = SHA-256 of `secret`, a fresh random nonce)
/// into base64 of nonce || ciphertext. Used for the stored copy of each API key, so that its
/// owner can reveal it again while a database dump alone does not.
pub fn seal(secret: &str, plaintext: &str) -> String {
    let mut nonce = [0u8; NONCE_LEN];
    rand::rng().fill(&mut nonce);
    // Encryption fails only for inputs beyond ~256 GiB; an empty ciphertext then fails `open`.
    let ciphertext = cipher_for(secret)
        .encrypt(&Nonce::from(nonce), plaintext.as_bytes())
        .unwrap_or_default();
    let mut sealed = Vec::with_capacity(NONCE_LEN + ciphertext.len());
    sealed.extend_from_slice(&nonce);
    sealed.extend_from_slice(&ciphertext);
    BASE64.encode(sealed)
}

/// Decrypts what [`seal`] made with the same `secret`. `None` when the secret differs or the
/// value was altered or is malformed.
pub fn open(secret: &str, sealed: &str) -> Option<String> {
    let bytes = BASE64.decode(sealed.trim()).ok()?;
    if bytes.len() < NONCE_LEN {
        return None;
    }
    let (nonce, ciphertext) = bytes.split_at(NONCE_LEN);
    let nonce: [u8; NONCE_LEN] = nonce.try_into().ok()?;
    let plaintext = cipher_for(secret)
        .decrypt(&Nonce::from(nonce), ciphertext)
        .ok()?;
    String::from_utf8(plaintext).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_round_trip() {
        let hash = hash_password("correct horse").unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify_password("correct horse", &hash));
        assert!(!verify_password("wrong horse", &hash));
        assert!(!verify_password("correct horse", "not a hash"));
    }

    #[test]
    fn random_tokens_differ_and_have_the_asked_length() {
        let a = random_alphanumeric(48);
        assert_eq!(a.len(), 48);
        assert!(a.chars().all(|c| c.is_ascii_alphanumeric()));
        assert_ne!(a, random_alphanumeric(48));
    }

    #[test]
    fn sealed_values_open_only_with_their_secret() {
        let sealed = seal("secret one", "sk-abc");
        assert_eq!(open("secret one", &sealed).as_deref(), Some("sk-abc"));
        assert_eq!(open("secret two", &sealed), None);
        // A fresh nonce each time: the same plaintext seals differently.
        assert_ne!(seal("secret one", "sk-abc"), sealed);
        // Tampering is detected.
        let mut bytes = BASE64.decode(&sealed).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        assert_eq!(open("secret one", &BASE64.encode(bytes)), None);
        assert_eq!(open("secret one", "not base64!"), None);
        assert_eq!(open("secret one", "AAAA"), None);
        assert_eq!(
            open("secret one", &seal("secret one", "")).as_deref(),
            Some("")
        );
    }

    #[test]
    fn constant_time_comparison() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }
}
