//! An HTTP client that talks to Pylon the way a new-api web console does: a cookie jar for the
//! session, and optionally `New-Api-User` and an access token.

use reqwest::{Method, StatusCode};
use serde_json::Value;

/// A console session against one Pylon.
pub struct Console {
    base_url: String,
    client: reqwest::Client,
    /// The same cookie jar, without following redirects.
    no_redirect: reqwest::Client,
    /// Sent as `New-Api-User` when set.
    pub user_id: Option<i64>,
    /// Sent as `Authorization: Bearer` when set.
    pub bearer: Option<String>,
}

/// An answer: HTTP status and JSON body (`Value::Null` when the body is not JSON).
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: StatusCode,
    pub body: Value,
}

impl Answer {
    /// The envelope's `success`.
    pub fn success(&self) -> bool {
        self.body["success"].as_bool() == Some(true)
    }

    /// The envelope's `message`.
    pub fn message(&self) -> &str {
        self.body["message"].as_str().unwrap_or("")
    }

    /// The envelope's `data`.
    pub fn data(&self) -> &Value {
        &self.body["data"]
    }
}

impl Console {
    /// A fresh console (empty cookie jar) for the Pylon at `base_url`.
    pub fn new(base_url: &str) -> Self {
        let jar = std::sync::Arc::new(reqwest::cookie::Jar::default());
        Self {
            base_url: base_url.to_string(),
            client: reqwest::Client::builder()
                .cookie_provider(jar.clone())
                .build()
                .expect("HTTP client"),
            no_redirect: reqwest::Client::builder()
                .cookie_provider(jar)
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("HTTP client"),
            user_id: None,
            bearer: None,
        }
    }

    /// A request to `path` with the console's cookies, `New-Api-User` and access token.
    fn request(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        let mut request = self
            .client
            .request(method, format!("{}{}", self.base_url, path));
        if let Some(id) = self.user_id {
            request = request.header("New-Api-User", id.to_string());
        }
        if let Some(token) = &self.bearer {
            request = request.bearer_auth(token);
        }
        request
    }

    /// GETs `path` as the console and answers the status, the content type and the body as
    /// text (downloads that are not JSON).
    pub async fn get_text(&self, path: &str) -> (u16, String, String) {
        let response = self
            .request(Method::GET, path)
            .send()
            .await
            .expect("request reaches Pylon");
        let status = response.status().as_u16();
        let kind = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        (status, kind, response.text().await.expect("response body"))
    }

    /// Sends a request with an optional raw body.
    pub async fn send(&self, method: Method, path: &str, body: Option<String>) -> Answer {
        let mut request = self.request(method, path);
        if let Some(body) = body {
            request = request
                .header("Content-Type", "application/json")
                .body(body);
        }
        let response = request.send().await.expect("request reaches Pylon");
        let status = response.status();
        let bytes = response.bytes().await.expect("response body");
        Answer {
            status,
            body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        }
    }

    /// POSTs `body` (JSON) to `path` as the console and answers the status and the body as text
    /// (streamed answers, relay errors).
    pub async fn post_text(&self, path: &str, body: &Value) -> (u16, String) {
        let response = self
            .request(Method::POST, path)
            .json(body)
            .send()
            .await
            .expect("request reaches Pylon");
        let status = response.status().as_u16();
        (status, response.text().await.expect("response body"))
    }

    /// GETs `path` as a browser navigation (the console's cookies only, no `New-Api-User`)
    /// without following a redirect: the answer and its `Location`, if any.
    pub async fn navigate(&self, path: &str) -> (Answer, Option<String>) {
        let response = self
            .no_redirect
            .get(format!("{}{}", self.base_url, path))
            .send()
            .await
            .expect("request reaches Pylon");
        let status = response.status();
        let location = response
            .headers()
            .get(reqwest::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let bytes = response.bytes().await.expect("response body");
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        (Answer { status, body }, location)
    }

    /// GET `path`.
    pub async fn get(&self, path: &str) -> Answer {
        self.send(Method::GET, path, None).await
    }

    /// POST `path` with a JSON body.
    pub async fn post(&self, path: &str, body: Value) -> Answer {
        self.send(Method::POST, path, Some(body.to_string())).await
    }

    /// POST `path` with a JSON body and extra request headers (a proxy's, say).
    pub async fn post_with_headers(
        &self,
        path: &str,
        body: Value,
        headers: &[(&str, &str)],
    ) -> Answer {
        let mut request = self
            .request(Method::POST, path)
            .header("Content-Type", "application/json")
            .body(body.to_string());
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = request.send().await.expect("request reaches Pylon");
        let status = response.status();
        let bytes = response.bytes().await.expect("response body");
        Answer {
            status,
            body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        }
    }

    /// POST `path` with a raw (possibly malformed) body.
    pub async fn post_raw(&self, path: &str, body: &str) -> Answer {
        self.send(Method::POST, path, Some(body.to_string())).await
    }

    /// Runs setup with `username`/`password` and asserts it succeeded.
    pub async fn setup_root(&self, username: &str, password: &str) {
        let answer = self
            .post(
                "/api/setup",
                serde_json::json!({
                    "username": username, "password": password, "confirmPassword": password
                }),
            )
            .await;
        assert!(answer.success(), "setup failed: {answer:?}");
    }

    /// Logs in, asserts success, and remembers the user id for `New-Api-User`.
    pub async fn login(&mut self, username: &str, password: &str) -> Value {
        let answer = self
            .post(
                "/api/user/login",
                serde_json::json!({ "username": username, "password": password }),
            )
            .await;
        assert!(answer.success(), "login failed: {answer:?}");
        self.user_id = answer.data()["id"].as_i64();
        answer.data().clone()
    }
}
