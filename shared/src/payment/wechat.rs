//! WeChat Pay API v3: every request to WeChat Pay is signed with the merchant's RSA key
//! (SHA256-RSA, PKCS#1 v1.5) over `METHOD\nPATH\nTIMESTAMP\nNONCE\nBODY\n`; every notification
//! is signed by WeChat Pay's platform key over `TIMESTAMP\nNONCE\nBODY\n` and carries its
//! payload AES-256-GCM encrypted under the merchant's API v3 key.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use rsa::pkcs8::{DecodePrivateKey, DecodePublicKey};
use rsa::{Pkcs1v15Sign, RsaPrivateKey, RsaPublicKey};
use sha2::{Digest, Sha256};

pub use rsa;

/// The authorization scheme of API v3.
pub const AUTH_SCHEME: &str = "WECHATPAY2-SHA256-RSA2048";
/// Where Native (QR code) orders are placed.
pub const NATIVE_PATH: &str = "/v3/pay/transactions/native";
/// The headers of a signed notification.
pub const HEADER_TIMESTAMP: &str = "wechatpay-timestamp";
pub const HEADER_NONCE: &str = "wechatpay-nonce";
pub const HEADER_SIGNATURE: &str = "wechatpay-signature";
pub const HEADER_SERIAL: &str = "wechatpay-serial";
/// How far a notification's timestamp may be from now (WeChat Pay advises five minutes).
pub const NOTIFICATION_TOLERANCE_SECS: i64 = 300;
/// The event of a paid transaction, and its trade state.
pub const TRANSACTION_SUCCESS: &str = "TRANSACTION.SUCCESS";
pub const TRADE_STATE_SUCCESS: &str = "SUCCESS";

/// Why a key, signature or resource was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WechatError {
    #[error("the key is not a PEM-encoded PKCS#8 RSA key")]
    BadKey,
    #[error("signing failed")]
    Signing,
    #[error("the signature does not verify")]
    BadSignature,
    #[error("the API v3 key must be 32 bytes")]
    BadApiV3Key,
    #[error("the resource does not decrypt")]
    BadResource,
    #[error("the notification's timestamp is missing or too far from now")]
    Stale,
    #[error("the notification is not the JSON WeChat Pay sends")]
    Malformed,
}

/// What a paid transaction's notification says, once verified and decrypted.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub struct Transaction {
    #[serde(default)]
    pub appid: String,
    #[serde(default)]
    pub mchid: String,
    #[serde(default)]
    pub out_trade_no: String,
    #[serde(default)]
    pub transaction_id: String,
    #[serde(default)]
    pub trade_state: String,
    #[serde(default)]
    pub amount: TransactionAmount,
}

/// The amount of a transaction, in fen (cents) of `currency`.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Deserialize)]
pub struct TransactionAmount {
    #[serde(default)]
    pub total: i64,
    #[serde(default)]
    pub currency: String,
}

/// The signature headers of a notification.
#[derive(Debug, Clone, Copy)]
pub struct NotificationHeaders<'a> {
    pub timestamp: &'a str,
    pub nonce: &'a str,
    pub signature: &'a str,
}

/// Verifies a notification (platform signature over timestamp, nonce and body; timestamp
/// within `tolerance` of `now`), then decrypts its resource under the API v3 key. Any
/// `event_type` is returned beside the transaction; the caller credits only a success.
pub fn open_notification(
    body: &[u8],
    headers: NotificationHeaders<'_>,
    platform_key: &RsaPublicKey,
    api_v3_key: &str,
    now: i64,
    tolerance: i64,
) -> Result<(String, Transaction), WechatError> {
    let sent_at: i64 = headers
        .timestamp
        .trim()
        .parse()
        .map_err(|_| WechatError::Stale)?;
    if (now - sent_at).abs() > tolerance {
        return Err(WechatError::Stale);
    }
    let text = std::str::from_utf8(body).map_err(|_| WechatError::Malformed)?;
    verify(
        platform_key,
        notification_message(headers.timestamp.trim(), headers.nonce, text).as_bytes(),
        headers.signature,
    )?;
    let envelope: serde_json::Value =
        serde_json::from_str(text).map_err(|_| WechatError::Malformed)?;
    let resource = &envelope["resource"];
    let field = |name: &str| resource[name].as_str().ok_or(WechatError::Malformed);
    let plain = decrypt_resource(
        api_v3_key,
        field("ciphertext")?,
        field("nonce")?,
        resource["associated_data"].as_str().unwrap_or(""),
    )?;
    let transaction = serde_json::from_slice(&plain).map_err(|_| WechatError::Malformed)?;
    let event_type = envelope["event_type"].as_str().unwrap_or("").to_string();
    Ok((event_type, transaction))
}

/// A Native order's request body.
#[derive(Debug, Clone, serde::Serialize)]
pub struct NativeOrder<'a> {
    pub appid: &'a str,
    pub mchid: &'a str,
    pub description: &'a str,
    pub out_trade_no: &'a str,
    /// RFC 3339, after which WeChat Pay refuses to take the payment.
    pub time_expire: &'a str,
    pub notify_url: &'a str,
    pub amount: NativeAmount<'a>,
}

/// The amount of a Native order, in fen (cents).
#[derive(Debug, Clone, serde::Serialize)]
pub struct NativeAmount<'a> {
    pub total: i64,
    pub currency: &'a str,
}

/// Reads the merchant's private key (`apiclient_key.pem`).
pub fn private_key_from_pem(pem: &str) -> Result<RsaPrivateKey, WechatError> {
    RsaPrivateKey::from_pkcs8_pem(pem.trim()).map_err(|_| WechatError::BadKey)
}

/// Reads WeChat Pay's platform public key.
pub fn public_key_from_pem(pem: &str) -> Result<RsaPublicKey, WechatError> {
    RsaPublicKey::from_public_key_pem(pem.trim()).map_err(|_| WechatError::BadKey)
}

/// Base64 SHA256-RSA signature of `message`.
pub fn sign(key: &RsaPrivateKey, message: &[u8]) -> Result<String, WechatError> {
    let digest = Sha256::digest(message);
    key.sign(Pkcs1v15Sign::new::<Sha256>(), &digest)
        .map(|signature| BASE64.encode(signature))
        .map_err(|_| WechatError::Signing)
}

/// Checks a base64 SHA256-RSA `signature` of `message`.
pub fn verify(key: &RsaPublicKey, message: &[u8], signature: &str) -> Result<(), WechatError> {
    let signature = BASE64
        .decode(signature.trim())
        .map_err(|_| WechatError::BadSignature)?;
    let digest = Sha256::digest(message);
    key.verify(Pkcs1v15Sign::new::<Sha256>(), &digest, &signature)
        .map_err(|_| WechatError::BadSignature)
}

/// The text a request signature covers. `path` includes the query string.
pub fn request_message(
    method: &str,
    path: &str,
    timestamp: i64,
    nonce: &str,
    body: &str,
) -> String {
    format!("{method}\n{path}\n{timestamp}\n{nonce}\n{body}\n")
}

/// The text a notification (or response) signature covers.
pub fn notification_message(timestamp: &str, nonce: &str, body: &str) -> String {
    format!("{timestamp}\n{nonce}\n{body}\n")
}

/// The merchant's identity for signing requests.
#[derive(Debug, Clone)]
pub struct Merchant<'a> {
    pub mch_id: &'a str,
    /// The serial number of the merchant certificate.
    pub serial_no: &'a str,
    pub key: &'a RsaPrivateKey,
}

/// The `Authorization` header of a request.
pub fn authorization(
    merchant: &Merchant<'_>,
    method: &str,
    path: &str,
    timestamp: i64,
    nonce: &str,
    body: &str,
) -> Result<String, WechatError> {
    let signature = sign(
        merchant.key,
        request_message(method, path, timestamp, nonce, body).as_bytes(),
    )?;
    Ok(format!(
        "{AUTH_SCHEME} mchid=\"{}\",nonce_str=\"{nonce}\",signature=\"{signature}\",timestamp=\"{timestamp}\",serial_no=\"{}\"",
        merchant.mch_id, merchant.serial_no
    ))
}

/// The fields of an `Authorization` header (for the mock gateway that checks them).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AuthorizationFields {
    pub mch_id: String,
    pub nonce: String,
    pub signature: String,
    pub timestamp: String,
    pub serial_no: String,
}

/// Reads an `Authorization` header; `None` when the scheme or a field is missing.
pub fn parse_authorization(header: &str) -> Option<AuthorizationFields> {
    let rest = header.strip_prefix(AUTH_SCHEME)?.trim();
    let mut fields = AuthorizationFields::default();
    for part in rest.split(',') {
        let (name, value) = part.trim().split_once('=')?;
        let value = value.trim_matches('"').to_string();
        match name {
            "mchid" => fields.mch_id = value,
            "nonce_str" => fields.nonce = value,
            "signature" => fields.signature = value,
            "timestamp" => fields.timestamp = value,
            "serial_no" => fields.serial_no = value,
            _ => {}
        }
    }
    let complete = [
        &fields.mch_id,
        &fields.nonce,
        &fields.signature,
        &fields.timestamp,
    ]
    .iter()
    .all(|f| !f.is_empty());
    complete.then_some(fields)
}

/// Decrypts a notification's `resource` (`ciphertext` base64, `nonce`, `associated_data`).
pub fn decrypt_resource(
    api_v3_key: &str,
    ciphertext_b64: &str,
    nonce: &str,
    associated_data: &str,
) -> Result<Vec<u8>, WechatError> {
    let cipher = cipher(api_v3_key)?;
    let nonce = Nonce::try_from(nonce.as_bytes()).map_err(|_| WechatError::BadResource)?;
    let ciphertext = BASE64
        .decode(ciphertext_b64.trim())
        .map_err(|_| WechatError::BadResource)?;
    cipher
        .decrypt(
            &nonce,
            Payload {
                msg: &ciphertext,
                aad: associated_data.as_bytes(),
            },
        )
        .map_err(|_| WechatError::BadResource)
}

/// Encrypts a resource as WeChat Pay does (for the mock gateway): base64 ciphertext with tag.
pub fn encrypt_resource(
    api_v3_key: &str,
    plaintext: &[u8],
    nonce: &str,
    associated_data: &str,
) -> Result<String, WechatError> {
    let cipher = cipher(api_v3_key)?;
    let nonce = Nonce::try_from(nonce.as_bytes()).map_err(|_| WechatError::BadResource)?;
    cipher
        .encrypt(
            &nonce,
            Payload {
                msg: plaintext,
                aad: associated_data.as_bytes(),
            },
        )
        .map(|sealed| BASE64.encode(sealed))
        .map_err(|_| WechatError::BadResource)
}

fn cipher(api_v3_key: &str) -> Result<Aes256Gcm, WechatError> {
    Aes256Gcm::new_from_slice(api_v3_key.as_bytes()).map_err(|_| WechatError::BadApiV3Key)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_chacha::ChaCha20Rng;
    use rand_chacha::rand_core::SeedableRng;
    use rsa::pkcs8::{EncodePrivateKey, EncodePublicKey, LineEnding};

    fn key_pair() -> (RsaPrivateKey, RsaPublicKey) {
        let mut rng = ChaCha20Rng::seed_from_u64(7);
        let private = RsaPrivateKey::new(&mut rng, 2048).unwrap();
        let public = private.to_public_key();
        (private, public)
    }

    #[test]
    fn requests_sign_and_verify_through_pem_keys() {
        let (private, public) = key_pair();
        let private_pem = private.to_pkcs8_pem(LineEnding::LF).unwrap();
        let public_pem = public.to_public_key_pem(LineEnding::LF).unwrap();
        let private = private_key_from_pem(&private_pem).unwrap();
        let public = public_key_from_pem(&public_pem).unwrap();
        let merchant = Merchant {
            mch_id: "1900000001",
            serial_no: "5157F09EFDC096DE15EBE81A47057A72",
            key: &private,
        };
        let body = r#"{"appid":"wx1","amount":{"total":100}}"#;
        let header = authorization(
            &merchant,
            "POST",
            "/v3/pay/transactions/native",
            1_554_208_460,
            "593BEC0C930BF1AFEB40B4A08C8FB242",
            body,
        )
        .unwrap();
        let fields = parse_authorization(&header).unwrap();
        assert_eq!(fields.mch_id, "1900000001");
        let message = request_message(
            "POST",
            "/v3/pay/transactions/native",
            1_554_208_460,
            &fields.nonce,
            body,
        );
        assert_eq!(
            verify(&public, message.as_bytes(), &fields.signature),
            Ok(())
        );
        let tampered = message.replace("100", "1");
        assert!(verify(&public, tampered.as_bytes(), &fields.signature).is_err());
        assert!(private_key_from_pem("not a key").is_err());
        assert!(parse_authorization("Bearer x").is_none());
    }

    #[test]
    fn notifications_open_only_when_signed_recent_and_sealed() {
        let (platform, platform_public) = key_pair();
        let key = "0123456789abcdef0123456789abcdef";
        let transaction = r#"{"appid":"wx1","mchid":"19","out_trade_no":"ord_1","transaction_id":"42","trade_state":"SUCCESS","amount":{"total":990,"currency":"CNY"}}"#;
        let sealed =
            encrypt_resource(key, transaction.as_bytes(), "abcdefabcdef", "transaction").unwrap();
        let body = format!(
            r#"{{"id":"n1","event_type":"TRANSACTION.SUCCESS","resource":{{"algorithm":"AEAD_AES_256_GCM","ciphertext":"{sealed}","nonce":"abcdefabcdef","associated_data":"transaction"}}}}"#
        );
        let signature = sign(
            &platform,
            notification_message("1700000000", "n0nce", &body).as_bytes(),
        )
        .unwrap();
        let headers = NotificationHeaders {
            timestamp: "1700000000",
            nonce: "n0nce",
            signature: &signature,
        };
        let open = |body: &str, headers, now| {
            open_notification(body.as_bytes(), headers, &platform_public, key, now, 300)
        };
        let (event, opened) = open(&body, headers, 1_700_000_100).unwrap();
        assert_eq!(event, TRANSACTION_SUCCESS);
        assert_eq!(opened.amount.total, 990);
        assert_eq!(opened.out_trade_no, "ord_1");
        assert_eq!(open(&body, headers, 1_700_000_301), Err(WechatError::Stale));
        let tampered = body.replace("n1", "n2");
        assert_eq!(
            open(&tampered, headers, 1_700_000_000),
            Err(WechatError::BadSignature)
        );
    }

    #[test]
    fn resources_round_trip_and_tampering_fails() {
        let key = "0123456789abcdef0123456789abcdef";
        let sealed = encrypt_resource(
            key,
            b"{\"trade_state\":\"SUCCESS\"}",
            "fdasflkja484",
            "transaction",
        )
        .unwrap();
        let opened = decrypt_resource(key, &sealed, "fdasflkja484", "transaction").unwrap();
        assert_eq!(opened, b"{\"trade_state\":\"SUCCESS\"}");
        assert!(decrypt_resource(key, &sealed, "fdasflkja484", "other").is_err());
        assert!(decrypt_resource("short", &sealed, "fdasflkja484", "transaction").is_err());
        assert!(decrypt_resource(key, &sealed, "short", "transaction").is_err());
    }

    #[test]
    fn aes_256_gcm_matches_a_published_vector() {
        // NIST GCM test vector (McGrew & Viega, test case 13): zero key, zero IV, empty text.
        let cipher = Aes256Gcm::new_from_slice(&[0u8; 32]).unwrap();
        let nonce = Nonce::try_from(&[0u8; 12][..]).unwrap();
        let tag = cipher.encrypt(&nonce, &b""[..]).unwrap();
        assert_eq!(hex::encode(tag), "530f8afbc74536b9a963b4f1c4cb738b");
    }
}
