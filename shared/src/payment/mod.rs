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

/// Stripe and Creem sign with it.
pub(crate) use crate::crypto::hmac_sha256_hex;
