//! A software WebAuthn authenticator for tests: one P-256 (ES256) credential that answers
//! registration options with a `none` attestation and login options with a signed assertion,
//! byte for byte as a browser and a platform authenticator would (clientDataJSON with the
//! challenge and origin; authenticatorData with the RP ID hash, UP|UV(|AT) flags, a signature
//! counter and, on registration, the attested credential data with the COSE key). Knobs make
//! it lie (another origin, another challenge, a forged signature) for the refusal tests.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use ciborium::Value as Cbor;
use p256::ecdsa::signature::Signer;
use p256::ecdsa::{Signature, SigningKey};
use rand::Rng;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

const FLAG_USER_PRESENT: u8 = 0x01;
const FLAG_USER_VERIFIED: u8 = 0x04;
const FLAG_ATTESTED_DATA: u8 = 0x40;

/// One credential on a software authenticator.
pub struct SoftAuthenticator {
    key: SigningKey,
    /// The raw credential id.
    pub credential_id: Vec<u8>,
    /// The user handle of the first registration options answered (sent back on login, as
    /// discoverable credentials do).
    pub user_handle: Option<Vec<u8>>,
    counter: u32,
}

/// How an answer deviates from an honest one.
#[derive(Debug, Clone, Default)]
pub struct Lie {
    /// Claim this origin instead of the honest one.
    pub origin: Option<String>,
    /// Answer this challenge (base64url) instead of the one asked.
    pub challenge: Option<String>,
    /// Sign with a key that is not the credential's.
    pub forge_signature: bool,
}

impl Default for SoftAuthenticator {
    fn default() -> Self {
        Self::new()
    }
}

impl SoftAuthenticator {
    /// A fresh credential with a random key and id.
    pub fn new() -> Self {
        let mut credential_id = vec![0u8; 32];
        rand::rng().fill(&mut credential_id[..]);
        Self {
            key: random_key(),
            credential_id,
            user_handle: None,
            counter: 0,
        }
    }

    /// The credential id as base64url (how the server lists it).
    pub fn credential_id_b64(&self) -> String {
        URL_SAFE_NO_PAD.encode(&self.credential_id)
    }

    /// The honest answer to `options` (`data.options` of register/begin) from `origin`.
    pub fn register(&mut self, options: &Value, origin: &str) -> Value {
        self.register_lying(options, origin, &Lie::default())
    }

    /// The answer to registration `options`, deviating as `lie` says.
    pub fn register_lying(&mut self, options: &Value, origin: &str, lie: &Lie) -> Value {
        let public_key = &options["publicKey"];
        let rp_id = public_key["rp"]["id"].as_str().expect("rp.id in options");
        let user_id = public_key["user"]["id"]
            .as_str()
            .expect("user.id in options");
        // A credential belongs to the user it was first created for.
        if self.user_handle.is_none() {
            self.user_handle = Some(decode(user_id));
        }
        let challenge = lie
            .challenge
            .clone()
            .unwrap_or_else(|| canonical(public_key["challenge"].as_str().expect("challenge")));
        let client_data = client_data(
            "webauthn.create",
            &challenge,
            lie.origin.as_deref().unwrap_or(origin),
        );

        let point = self.key.verifying_key().to_encoded_point(false);
        let cose_key = Cbor::Map(vec![
            (Cbor::Integer(1.into()), Cbor::Integer(2.into())),
            (Cbor::Integer(3.into()), Cbor::Integer((-7).into())),
            (Cbor::Integer((-1).into()), Cbor::Integer(1.into())),
            (
                Cbor::Integer((-2).into()),
                Cbor::Bytes(point.x().expect("x").to_vec()),
            ),
            (
                Cbor::Integer((-3).into()),
                Cbor::Bytes(point.y().expect("y").to_vec()),
            ),
        ]);
        let mut auth_data = self.auth_data_head(
            rp_id,
            FLAG_USER_PRESENT | FLAG_USER_VERIFIED | FLAG_ATTESTED_DATA,
        );
        auth_data.extend_from_slice(&[0u8; 16]); // AAGUID: none
        let id_len = u16::try_from(self.credential_id.len()).expect("short credential id");
        auth_data.extend_from_slice(&id_len.to_be_bytes());
        auth_data.extend_from_slice(&self.credential_id);
        auth_data.extend_from_slice(&cbor(&cose_key));

        let attestation = Cbor::Map(vec![
            (Cbor::Text("fmt".into()), Cbor::Text("none".into())),
            (Cbor::Text("attStmt".into()), Cbor::Map(Vec::new())),
            (Cbor::Text("authData".into()), Cbor::Bytes(auth_data)),
        ]);
        json!({
            "id": self.credential_id_b64(),
            "rawId": self.credential_id_b64(),
            "type": "public-key",
            "response": {
                "attestationObject": URL_SAFE_NO_PAD.encode(cbor(&attestation)),
                "clientDataJSON": URL_SAFE_NO_PAD.encode(client_data.as_bytes()),
                "transports": ["internal"],
            },
            "clientExtensionResults": {},
        })
    }

    /// The honest answer to login `options` (`data.options` of login/begin) from `origin`.
    pub fn login(&mut self, options: &Value, origin: &str) -> Value {
        self.login_lying(options, origin, &Lie::default())
    }

    /// The answer to login `options`, deviating as `lie` says.
    pub fn login_lying(&mut self, options: &Value, origin: &str, lie: &Lie) -> Value {
        let public_key = &options["publicKey"];
        let rp_id = public_key["rpId"].as_str().expect("rpId in options");
        let challenge = lie
            .challenge
            .clone()
            .unwrap_or_else(|| canonical(public_key["challenge"].as_str().expect("challenge")));
        let client_data = client_data(
            "webauthn.get",
            &challenge,
            lie.origin.as_deref().unwrap_or(origin),
        );
        let auth_data = self.auth_data_head(rp_id, FLAG_USER_PRESENT | FLAG_USER_VERIFIED);
        let mut signed = auth_data.clone();
        signed.extend_from_slice(&Sha256::digest(client_data.as_bytes()));
        let key = if lie.forge_signature {
            random_key()
        } else {
            self.key.clone()
        };
        let signature: Signature = key.sign(&signed);
        json!({
            "id": self.credential_id_b64(),
            "rawId": self.credential_id_b64(),
            "type": "public-key",
            "response": {
                "authenticatorData": URL_SAFE_NO_PAD.encode(&auth_data),
                "clientDataJSON": URL_SAFE_NO_PAD.encode(client_data.as_bytes()),
                "signature": URL_SAFE_NO_PAD.encode(signature.to_der().as_bytes()),
                "userHandle": self.user_handle.as_ref().map(|h| URL_SAFE_NO_PAD.encode(h)),
            },
            "clientExtensionResults": {},
        })
    }

    /// RP ID hash, flags and the next signature counter value.
    fn auth_data_head(&mut self, rp_id: &str, flags: u8) -> Vec<u8> {
        self.counter += 1;
        let mut data = Sha256::digest(rp_id.as_bytes()).to_vec();
        data.push(flags);
        data.extend_from_slice(&self.counter.to_be_bytes());
        data
    }
}

/// A random challenge (base64url), for answers to a question nobody asked.
pub fn random_challenge() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill(&mut bytes[..]);
    URL_SAFE_NO_PAD.encode(bytes)
}

fn random_key() -> SigningKey {
    loop {
        let mut bytes = [0u8; 32];
        rand::rng().fill(&mut bytes[..]);
        // Fails only for the zero scalar or one above the group order: draw again.
        if let Ok(key) = SigningKey::from_slice(&bytes) {
            return key;
        }
    }
}

fn client_data(kind: &str, challenge: &str, origin: &str) -> String {
    json!({ "type": kind, "challenge": challenge, "origin": origin, "crossOrigin": false })
        .to_string()
}

fn cbor(value: &Cbor) -> Vec<u8> {
    let mut out = Vec::new();
    ciborium::into_writer(value, &mut out).expect("CBOR encoding");
    out
}

/// Bytes of base64 in any of its spellings.
fn decode(text: &str) -> Vec<u8> {
    [URL_SAFE_NO_PAD, URL_SAFE, STANDARD_NO_PAD, STANDARD]
        .iter()
        .find_map(|engine| engine.decode(text).ok())
        .unwrap_or_else(|| panic!("not base64: {text}"))
}

/// The challenge as a browser writes it into clientDataJSON (base64url, no padding).
fn canonical(challenge: &str) -> String {
    URL_SAFE_NO_PAD.encode(decode(challenge))
}
