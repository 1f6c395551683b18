//! The scene of the custom OAuth provider tests: a Pylon with `ServerAddress` set, its root,
//! a mock OAuth server (the OIDC tests' [`MockOidc`], which checks the client credentials, the
//! code and the redirect URI it receives), and the flows as new-api's console drives them.

use crate::client::Answer;
use crate::fixtures::{database, root_console, set_option};
use crate::oidc_provider::MockOidc;
use crate::{Backend, Console, Pylon};
use reqwest::StatusCode;
use serde_json::{Value, json};

pub const CLIENT_ID: &str = "corp-client";
pub const CLIENT_SECRET: &str = "corp-client-secret";

/// A Pylon, its root and a mock provider.
pub struct Scene {
    pub pylon: Pylon,
    pub root: Console,
    pub idp: MockOidc,
    pub pool: sqlx::AnyPool,
}

impl Scene {
    /// Pylon with a generous per-IP budget, `ServerAddress` set, and a mock provider.
    pub async fn start(backend: Backend) -> Self {
        let pylon = Pylon::builder(backend)
            .env("PYLON__AUTH__LOGIN_ATTEMPTS_PER_IP", "500")
            .start()
            .await;
        let root = root_console(&pylon).await;
        set_option(&root, "ServerAddress", &pylon.base_url).await;
        let idp = MockOidc::start(CLIENT_ID, CLIENT_SECRET).await;
        let pool = database(&pylon).await;
        Self {
            pylon,
            root,
            idp,
            pool,
        }
    }

    /// A fresh browser.
    pub fn console(&self) -> Console {
        Console::new(&self.pylon.base_url)
    }

    /// An `oauth_code` provider at the mock, as a console creates it (`extra` overrides).
    pub fn oauth_code(&self, slug: &str, extra: Value) -> Value {
        let mut body = json!({
            "name": format!("{slug} SSO"), "slug": slug, "enabled": true,
            "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
            "authorization_endpoint": self.idp.authorization_endpoint(),
            "token_endpoint": self.idp.token_endpoint(),
            "user_info_endpoint": self.idp.userinfo_endpoint(),
            "scopes": "openid profile email", "icon": "openid",
        });
        merge(&mut body, extra);
        body
    }

    /// Creates a provider as root; asserts success and answers its id.
    pub async fn create_provider(&self, body: Value) -> i64 {
        let answer = self.root.post("/api/custom-oauth-provider/", body).await;
        assert!(answer.success(), "creating the provider failed: {answer:?}");
        answer.data()["id"].as_i64().expect("provider id")
    }

    /// Changes a provider as root; asserts success.
    pub async fn update_provider(&self, id: i64, body: Value) {
        let answer = self
            .root
            .send(
                reqwest::Method::PUT,
                &format!("/api/custom-oauth-provider/{id}"),
                Some(body.to_string()),
            )
            .await;
        assert!(answer.success(), "updating the provider failed: {answer:?}");
    }

    /// A state from `GET /api/oauth/state` in `console`.
    pub async fn state(&self, console: &Console) -> String {
        let answer = console.get("/api/oauth/state").await;
        assert!(answer.success(), "{answer:?}");
        answer.data().as_str().expect("the state").to_string()
    }

    /// The authorization URL new-api's console builds for provider `slug` with `state`.
    pub fn authorization_url(&self, slug: &str, state: &str) -> String {
        let mut url = url::Url::parse(&self.idp.authorization_endpoint()).expect("url");
        url.query_pairs_mut()
            .append_pair("client_id", CLIENT_ID)
            .append_pair(
                "redirect_uri",
                &format!("{}/oauth/{slug}", self.pylon.base_url),
            )
            .append_pair("response_type", "code")
            .append_pair("scope", "openid profile email")
            .append_pair("state", state);
        url.into()
    }

    /// A whole flow of provider `slug` in `console` (a sign-in, or a binding when signed in):
    /// the answer of `GET /api/oauth/{slug}?code=&state=`.
    pub async fn flow(&self, console: &Console, slug: &str) -> Answer {
        let state = self.state(console).await;
        let redirect = self
            .idp
            .authorize(&self.authorization_url(slug, &state))
            .await;
        console
            .get(&format!("/api/oauth/{slug}{}", redirect.query()))
            .await
    }

    /// A whole sign-in in a fresh console; asserts success, answers the signed-in console.
    pub async fn sign_in(&self, slug: &str) -> (Console, Answer) {
        let mut console = self.console();
        let answer = self.flow(&console, slug).await;
        assert!(answer.success(), "sign-in failed: {answer:?}");
        console.user_id = answer.data()["id"].as_i64();
        (console, answer)
    }

    /// One integer from `sql`.
    pub async fn count(&self, sql: &'static str) -> i64 {
        sqlx::query_scalar::<_, i64>(sql)
            .fetch_one(&self.pool)
            .await
            .expect(sql)
    }

    /// Users, sessions and bindings: what a refused flow must leave as it was.
    pub async fn footprint(&self) -> (i64, i64, i64) {
        (
            self.count("SELECT COUNT(*) FROM users").await,
            self.count("SELECT COUNT(*) FROM sessions").await,
            self.count("SELECT COUNT(*) FROM user_oauth_bindings").await,
        )
    }
}

/// Sets every field of `extra` on `body`.
pub fn merge(body: &mut Value, extra: Value) {
    if let (Some(body), Value::Object(extra)) = (body.as_object_mut(), extra) {
        body.extend(extra);
    }
}

/// Asserts new-api's refusal: HTTP `status`, `success: false`, a message containing
/// `expected`.
pub fn refused_with(answer: &Answer, status: StatusCode, expected: &str) {
    assert_eq!(answer.status, status, "{answer:?}");
    assert!(!answer.success(), "should be refused: {answer:?}");
    assert!(
        answer.message().contains(expected),
        "message should contain {expected:?}: {answer:?}"
    );
}
