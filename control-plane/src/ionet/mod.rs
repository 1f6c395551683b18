//! io.net's container-as-a-service API, as new-api's `pkg/ionet` calls it: every request carries
//! the operator's key in `X-API-KEY`, JSON both ways, under `control_plane.ionet_api_url` with
//! the public prefix (`/v1/io-cloud/caas`) or the enterprise one (`/enterprise/v1/io-cloud/caas`).
//! An answer of status 400 or more is an [`IoNetError`] carrying io.net's `detail`; no answer
//! within `control_plane.ionet_timeout_secs`, a refused connection or an answer that is not the
//! expected shape are errors too. Answers are read up to [`MAX_ANSWER_BYTES`].

pub mod shapes;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::sync::OnceLock;
use std::time::Duration;

/// The largest answer read (logs included).
const MAX_ANSWER_BYTES: usize = 8 << 20;

/// Which of io.net's two API roots a call goes to (new-api's `NewClient` and
/// `NewEnterpriseClient`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Api {
    Public,
    Enterprise,
}

impl Api {
    fn prefix(self) -> &'static str {
        match self {
            Api::Public => "/v1/io-cloud/caas",
            Api::Enterprise => "/enterprise/v1/io-cloud/caas",
        }
    }
}

/// Why an io.net call failed; its text is what the caller is told.
#[derive(Debug)]
pub enum IoNetError {
    /// io.net answered with an error status; `message` is its `detail` when it gave one.
    Refused(String),
    /// No usable answer: unreachable, too slow, too large or not the expected shape.
    Failed(String),
}

impl std::fmt::Display for IoNetError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            IoNetError::Refused(message) => f.write_str(message),
            IoNetError::Failed(message) => f.write_str(message),
        }
    }
}

/// A client for one API root with one key.
pub struct Client<'a> {
    base: String,
    key: &'a str,
    timeout: Duration,
}

impl<'a> Client<'a> {
    /// A client of `api` under `base_url` (`control_plane.ionet_api_url`).
    pub fn new(base_url: &str, api: Api, key: &'a str, timeout: Duration) -> Self {
        Self {
            base: format!("{}{}", base_url.trim_end_matches('/'), api.prefix()),
            key,
            timeout,
        }
    }

    /// `GET path?query`, the answer's body as text.
    pub async fn get_text(
        &self,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<String, IoNetError> {
        let body = self.call(reqwest::Method::GET, path, query, None).await?;
        Ok(String::from_utf8_lossy(&body).into_owned())
    }

    /// `GET path?query`, the answer as `T`, unwrapped from `{"data": ...}` when so wrapped.
    pub async fn get_data<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<T, IoNetError> {
        let body = self.call(reqwest::Method::GET, path, query, None).await?;
        decode(&body, true)
    }

    /// `GET path?query`, the answer as `T` exactly as sent.
    pub async fn get_bare<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<T, IoNetError> {
        let body = self.call(reqwest::Method::GET, path, query, None).await?;
        decode(&body, false)
    }

    /// `method path` with a JSON body (or none), the answer as `T`, unwrapped from `data`
    /// when `unwrap`.
    pub async fn send<T: DeserializeOwned>(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&impl Serialize>,
        unwrap: bool,
    ) -> Result<T, IoNetError> {
        let body = match body {
            Some(body) => Some(
                serde_json::to_vec(body)
                    .map_err(|e| IoNetError::Failed(format!("cannot encode the request: {e}")))?,
            ),
            None => None,
        };
        let answer = self.call(method, path, &[], body).await?;
        decode(&answer, unwrap)
    }

    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<Vec<u8>>,
    ) -> Result<Vec<u8>, IoNetError> {
        let client = http()?;
        let mut request = client
            .request(method, format!("{}{path}", self.base))
            .header("X-API-KEY", self.key)
            .header("Content-Type", "application/json");
        if !query.is_empty() {
            request = request.query(query);
        }
        if let Some(body) = body {
            request = request.body(body);
        }
        let read = async {
            let mut response = request.send().await.map_err(|e| {
                IoNetError::Failed(format!("io.net is unreachable: {}", e.without_url()))
            })?;
            let status = response.status().as_u16();
            let mut body = Vec::new();
            while let Some(chunk) = response.chunk().await.map_err(|e| {
                IoNetError::Failed(format!(
                    "reading io.net's answer failed: {}",
                    e.without_url()
                ))
            })? {
                body.extend_from_slice(&chunk);
                if body.len() > MAX_ANSWER_BYTES {
                    return Err(IoNetError::Failed("io.net's answer is too large".into()));
                }
            }
            Ok((status, body))
        };
        let (status, body) = tokio::time::timeout(self.timeout, read)
            .await
            .map_err(|_| {
                IoNetError::Failed(format!(
                    "no answer from io.net within {} s",
                    self.timeout.as_secs()
                ))
            })??;
        if status >= 400 {
            return Err(refused(status, &body));
        }
        Ok(body)
    }
}

/// The shared HTTP client (connections are reused across calls).
fn http() -> Result<&'static reqwest::Client, IoNetError> {
    static CLIENT: OnceLock<reqwest::Client> = OnceLock::new();
    if let Some(client) = CLIENT.get() {
        return Ok(client);
    }
    let client = reqwest::Client::builder()
        .no_proxy()
        .connect_timeout(Duration::from_secs(10))
        .build()
        .map_err(|e| IoNetError::Failed(format!("cannot build an HTTP client: {e}")))?;
    Ok(CLIENT.get_or_init(|| client))
}

/// io.net's error answer: `{"detail": "..."}`, else the status (and the body, as new-api).
fn refused(status: u16, body: &[u8]) -> IoNetError {
    let detail = serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| match v.get("detail") {
            Some(Value::String(detail)) if !detail.trim().is_empty() => Some(detail.clone()),
            _ => None,
        });
    let message = match detail {
        Some(detail) => detail,
        None => {
            let text = String::from_utf8_lossy(body);
            let text: String = text.trim().chars().take(300).collect();
            if text.is_empty() {
                format!("io.net request failed with status {status}")
            } else {
                format!("io.net request failed with status {status}: {text}")
            }
        }
    };
    IoNetError::Refused(message)
}

/// An answer as `T`; with `unwrap`, an object holding `data` is read as its `data`.
fn decode<T: DeserializeOwned>(body: &[u8], unwrap: bool) -> Result<T, IoNetError> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|_| IoNetError::Failed("io.net's answer is not JSON".into()))?;
    let value = match value {
        Value::Object(mut object) if unwrap && object.contains_key("data") => {
            object.remove("data").unwrap_or(Value::Null)
        }
        value => value,
    };
    serde_json::from_value(value).map_err(|e| {
        IoNetError::Failed(format!("io.net's answer is not in the expected shape: {e}"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_carry_io_nets_detail() {
        let error = refused(404, br#"{"detail": "Deployment not found"}"#);
        assert_eq!(error.to_string(), "Deployment not found");
        let error = refused(502, b"<html>bad gateway</html>");
        assert_eq!(
            error.to_string(),
            "io.net request failed with status 502: <html>bad gateway</html>"
        );
        assert_eq!(
            refused(500, b"").to_string(),
            "io.net request failed with status 500"
        );
    }

    #[test]
    fn data_is_unwrapped_only_when_asked() {
        let wrapped: Vec<i64> = decode(br#"{"data": [1, 2]}"#, true).unwrap();
        assert_eq!(wrapped, [1, 2]);
        let bare: Vec<i64> = decode(b"[3]", true).unwrap();
        assert_eq!(bare, [3]);
        assert!(decode::<Vec<i64>>(br#"{"data": [1]}"#, false).is_err());
        assert!(decode::<bool>(b"nope", false).is_err());
    }

    #[test]
    fn the_two_roots() {
        let client = Client::new("http://io/", Api::Enterprise, "k", Duration::from_secs(1));
        assert_eq!(client.base, "http://io/enterprise/v1/io-cloud/caas");
        let client = Client::new("http://io", Api::Public, "k", Duration::from_secs(1));
        assert_eq!(client.base, "http://io/v1/io-cloud/caas");
    }
}
