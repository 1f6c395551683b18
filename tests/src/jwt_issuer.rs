//! A mock JWT issuer for the custom OAuth provider tests, on 127.0.0.1 and a free port: an RSA
//! key made at test time (no private key is committed), its public key as PEM and as a JWKS
//! (`/jwks`, the key named by its `kid`), RS256 tokens signed with it or with a stranger's key,
//! and a user info endpoint (`/userinfo`) that answers the claims of the access tokens
//! registered with it and checks the header they come in.

use crate::mock_server::{self, MockServer};
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use rsa::traits::PublicKeyParts;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

/// The `kid` of the issuer's key in its JWKS.
pub const KID: &str = "pylon-test-key";

/// A key pair: the private key as PKCS#1 DER, the public one as SPKI PEM and its JWK numbers.
struct KeyPair {
    private_der: Vec<u8>,
    public_pem: String,
    n: String,
    e: String,
}

fn key_pair(seed: u64) -> KeyPair {
    use rand_chacha::ChaCha20Rng;
    use rand_chacha::rand_core::SeedableRng;
    use rsa::pkcs1::EncodeRsaPrivateKey;
    use rsa::pkcs8::{EncodePublicKey, LineEnding};
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    let private = rsa::RsaPrivateKey::new(&mut rng, 2048).expect("an RSA key");
    let public = private.to_public_key();
    KeyPair {
        private_der: private.to_pkcs1_der().expect("PKCS#1").as_bytes().to_vec(),
        public_pem: public.to_public_key_pem(LineEnding::LF).expect("SPKI"),
        n: URL_SAFE_NO_PAD.encode(public.n().to_bytes_be()),
        e: URL_SAFE_NO_PAD.encode(public.e().to_bytes_be()),
    }
}

fn issuer_keys() -> &'static KeyPair {
    static KEYS: OnceLock<KeyPair> = OnceLock::new();
    KEYS.get_or_init(|| key_pair(11))
}

fn stranger_keys() -> &'static KeyPair {
    static KEYS: OnceLock<KeyPair> = OnceLock::new();
    KEYS.get_or_init(|| key_pair(12))
}

fn sign_with(keys: &KeyPair, claims: &Value, kid: Option<&str>) -> String {
    let mut header = Header::new(Algorithm::RS256);
    header.kid = kid.map(str::to_string);
    let key = EncodingKey::from_rsa_der(&keys.private_der);
    jsonwebtoken::encode(&header, claims, &key).expect("a signed JWT")
}

#[derive(Default)]
struct Inner {
    /// Access token -> the claims `/userinfo` answers for it.
    access_tokens: HashMap<String, Value>,
    jwks_fetches: usize,
    /// The header `/userinfo` reads the token from.
    token_header: String,
}

type Shared = Arc<Mutex<Inner>>;

/// A running issuer; stops when dropped.
pub struct JwtIssuer {
    /// `http://127.0.0.1:<port>`.
    pub base_url: String,
    shared: Shared,
    _server: MockServer,
}

impl JwtIssuer {
    /// Starts the issuer.
    pub async fn start() -> Self {
        let bound = mock_server::bind("JWT issuer").await;
        let base_url = bound.base_url.clone();
        let shared: Shared = Arc::new(Mutex::new(Inner {
            token_header: "authorization".into(),
            ..Inner::default()
        }));
        let router = Router::new()
            .route("/jwks", get(jwks))
            .route("/userinfo", get(userinfo))
            .with_state(Arc::clone(&shared));
        Self {
            base_url,
            shared,
            _server: bound.serve(router),
        }
    }

    /// The issuer's public key (SPKI PEM), for a provider's `public_key`.
    pub fn public_pem() -> String {
        issuer_keys().public_pem.clone()
    }

    /// `claims` signed (RS256) by the issuer's key, naming its `kid`.
    pub fn sign(claims: &Value) -> String {
        sign_with(issuer_keys(), claims, Some(KID))
    }

    /// `claims` signed by a key the issuer does not publish (under the issuer's `kid`).
    pub fn forge(claims: &Value) -> String {
        sign_with(stranger_keys(), claims, Some(KID))
    }

    /// The JWKS URL.
    pub fn jwks_url(&self) -> String {
        format!("{}/jwks", self.base_url)
    }

    /// The user info URL.
    pub fn userinfo_url(&self) -> String {
        format!("{}/userinfo", self.base_url)
    }

    /// Makes `/userinfo` answer `claims` for `token`, read from header `header`.
    pub fn register_token(&self, token: &str, claims: Value, header: &str) {
        let mut inner = self.lock();
        inner.access_tokens.insert(token.to_string(), claims);
        inner.token_header = header.to_lowercase();
    }

    /// How many times the JWKS was fetched.
    pub fn jwks_fetches(&self) -> usize {
        self.lock().jwks_fetches
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.shared.lock().unwrap_or_else(|e| e.into_inner())
    }
}

async fn jwks(State(shared): State<Shared>) -> Response {
    shared
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .jwks_fetches += 1;
    let keys = issuer_keys();
    axum::Json(json!({"keys": [
        // A key of another use and an unusable one come first: they must be skipped.
        {"kty": "RSA", "kid": "encryption-key", "use": "enc", "n": keys.n, "e": keys.e},
        {"kty": "unknown", "kid": "odd"},
        {"kty": "RSA", "kid": KID, "use": "sig", "alg": "RS256", "n": keys.n, "e": keys.e},
    ]}))
    .into_response()
}

async fn userinfo(State(shared): State<Shared>, headers: HeaderMap) -> Response {
    let inner = shared.lock().unwrap_or_else(|e| e.into_inner());
    let sent = headers
        .get(inner.token_header.as_str())
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let token = sent.strip_prefix("Bearer ").unwrap_or(sent);
    match inner.access_tokens.get(token) {
        Some(claims) => axum::Json(claims.clone()).into_response(),
        None => (StatusCode::UNAUTHORIZED, "unknown token").into_response(),
    }
}
