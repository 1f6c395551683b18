//! Verifying a `jwt_direct` provider's token (its `claims` identity mode): the signature with
//! the provider's PEM public key or a key of its JWKS (fetched when needed, chosen by `kid`),
//! the algorithm of the key's family only (never HMAC nor `none`), the issuer, the audience
//! when one is configured, and `exp`/`nbf` when the token carries them (as new-api's
//! golang-jwt does).

use super::config::Settings;
use super::exchange::{ProviderCall, fetch_json};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use jsonwebtoken::jwk::{Jwk, JwkSet, PublicKeyUse};
use jsonwebtoken::{AlgorithmFamily, DecodingKey, Validation};
use serde_json::Value;
use std::collections::HashSet;

/// Why a token was refused.
#[derive(Debug)]
pub enum Refusal {
    /// The key could not be found or read (the provider's configuration or JWKS).
    Key(String),
    /// The token itself is not acceptable.
    Token(String),
}

/// `rsaEncryption`, `id-ecPublicKey` and `id-Ed25519`: the key types a PEM key may have.
const RSA_OID: &str = "1.2.840.113549.1.1.1";
const EC_OID: &str = "1.2.840.10045.2.1";
const ED25519_OID: &str = "1.3.101.112";

/// A PEM public key: `PUBLIC KEY` (SubjectPublicKeyInfo of an RSA, EC or Ed25519 key) or
/// `RSA PUBLIC KEY` (PKCS#1).
pub fn public_key(pem: &str) -> Result<DecodingKey, Refusal> {
    let unusable = || Refusal::Key("the public key is not a PEM RSA, EC or Ed25519 key".into());
    let (label, der) = pem_block(pem).ok_or_else(unusable)?;
    if label == "RSA PUBLIC KEY" {
        return Ok(DecodingKey::from_rsa_der(&der));
    }
    if label != "PUBLIC KEY" {
        return Err(unusable());
    }
    let info = spki::SubjectPublicKeyInfoRef::try_from(der.as_slice()).map_err(|_| unusable())?;
    let key = info.subject_public_key.as_bytes().ok_or_else(unusable)?;
    match info.algorithm.oid.to_string().as_str() {
        RSA_OID => Ok(DecodingKey::from_rsa_der(key)),
        EC_OID => Ok(DecodingKey::from_ec_der(key)),
        ED25519_OID => Ok(DecodingKey::from_ed_der(key)),
        _ => Err(unusable()),
    }
}

/// The label and the decoded body of the first PEM block of `text`.
fn pem_block(text: &str) -> Option<(String, Vec<u8>)> {
    let text = text.trim();
    let (label, rest) = text.strip_prefix("-----BEGIN ")?.split_once("-----")?;
    let body = rest
        .split_once(format!("-----END {label}-----").as_str())?
        .0;
    let label = label.to_string();
    let base64: String = body.chars().filter(|c| !c.is_whitespace()).collect();
    let der = STANDARD.decode(base64).ok()?;
    Some((label, der))
}

/// The verified claims of `token`.
pub async fn verify(
    call: &ProviderCall<'_>,
    settings: &Settings,
    token: &str,
) -> Result<Value, Refusal> {
    let header = jsonwebtoken::decode_header(token)
        .map_err(|e| Refusal::Token(format!("malformed ({e})")))?;
    let key = if settings.public_key.is_empty() {
        jwks_key(call, &settings.jwks_url, header.kid.as_deref(), header.alg).await?
    } else {
        public_key(&settings.public_key)?
    };
    if key.family() == AlgorithmFamily::Hmac || header.alg.family() != key.family() {
        return Err(Refusal::Token(format!(
            "unsupported signing algorithm {:?} for this key",
            header.alg
        )));
    }
    let mut validation = Validation::new(header.alg);
    // exp and nbf are checked when present; none is required (new-api's golang-jwt default).
    validation.required_spec_claims = HashSet::new();
    validation.validate_nbf = true;
    validation.validate_aud = false;
    let data = jsonwebtoken::decode::<Value>(token, &key, &validation)
        .map_err(|e| Refusal::Token(format!("verification failed ({e})")))?;
    let claims = data.claims;
    if !claims.is_object() {
        return Err(Refusal::Token("its claims are not an object".into()));
    }
    if !settings.issuer.is_empty()
        && claims["iss"].as_str().map(str::trim) != Some(&settings.issuer)
    {
        return Err(Refusal::Token("issuer mismatch".into()));
    }
    if !settings.audience.is_empty() {
        let audience_ok = match &claims["aud"] {
            Value::String(aud) => aud.trim() == settings.audience,
            Value::Array(auds) => auds
                .iter()
                .any(|a| a.as_str().map(str::trim) == Some(&settings.audience)),
            _ => false,
        };
        if !audience_ok {
            return Err(Refusal::Token("audience mismatch".into()));
        }
    }
    Ok(claims)
}

/// The key of the provider's JWKS that signed a token: the one named by `kid` (for signing),
/// else the first signing key of the token's algorithm, else the only key.
async fn jwks_key(
    call: &ProviderCall<'_>,
    jwks_url: &str,
    kid: Option<&str>,
    alg: jsonwebtoken::Algorithm,
) -> Result<DecodingKey, Refusal> {
    let document = fetch_json(call, "JWKS", jwks_url, None)
        .await
        .map_err(|e| Refusal::Key(e.to_string()))?;
    // Keys of types this server cannot use are skipped, not fatal.
    let keys: Vec<Jwk> = document["keys"]
        .as_array()
        .map(|keys| {
            keys.iter()
                .filter_map(|k| serde_json::from_value(k.clone()).ok())
                .collect()
        })
        .unwrap_or_default();
    let set = JwkSet { keys };
    if set.keys.is_empty() {
        return Err(Refusal::Key("the JWKS has no usable keys".into()));
    }
    let for_signing = |jwk: &&Jwk| {
        jwk.common
            .public_key_use
            .as_ref()
            .is_none_or(|u| *u == PublicKeyUse::Signature)
    };
    let chosen = match kid {
        Some(kid) => set
            .keys
            .iter()
            .filter(for_signing)
            .find(|jwk| jwk.common.key_id.as_deref() == Some(kid))
            .ok_or_else(|| Refusal::Key(format!("no JWKS key has kid {kid:?}")))?,
        None => set
            .keys
            .iter()
            .filter(for_signing)
            .find(|jwk| {
                jwk.common
                    .key_algorithm
                    .is_none_or(|a| a.to_string() == format!("{alg:?}"))
            })
            .or_else(|| (set.keys.len() == 1).then(|| &set.keys[0]))
            .ok_or_else(|| Refusal::Key("unable to select a JWKS key".into()))?,
    };
    DecodingKey::from_jwk(chosen).map_err(|e| Refusal::Key(format!("unusable JWKS key ({e})")))
}
