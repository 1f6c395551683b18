//! Taking money, the pure part (no I/O): exact amounts and prices, and each payment gateway's
//! signing rules. The control plane calls these to build requests to gateways and to verify
//! their callbacks; the test mocks call them to play the gateway's side.

pub mod creem;
pub mod epay;
pub mod money;
pub mod secret_options;
pub mod stripe;
pub mod waffo;
pub mod wechat;

/// Hex-encoded HMAC-SHA256 of `message` under `secret` (Stripe and Creem sign this way).
pub(crate) fn hmac_sha256_hex(secret: &[u8], message: &[u8]) -> String {
    use hmac::{Hmac, Mac};
    // HMAC accepts keys of any length, so this never fails.
    let mut mac = match Hmac::<sha2::Sha256>::new_from_slice(secret) {
        Ok(mac) => mac,
        Err(_) => return String::new(),
    };
    mac.update(message);
    hex::encode(mac.finalize().into_bytes())
}
