//! What the mock remembers about each request, for tests to assert on.

use super::http::Request;
use super::multipart::FormField;
use serde_json::Value;
use std::time::Instant;

/// One request as the mock received it.
#[derive(Debug, Clone)]
pub struct RecordedRequest {
    /// `GET`, `POST`, ...
    pub method: String,
    /// The path without the query string.
    pub path: String,
    /// The raw query string, without `?`.
    pub query: Option<String>,
    /// Every header, names lowercased, in arrival order.
    pub headers: Vec<(String, String)>,
    /// Size of the request body in bytes.
    pub body_len: usize,
    /// The body parsed as JSON, when it is JSON.
    pub json: Option<Value>,
    /// The parts of a `multipart/form-data` body (empty otherwise).
    pub form: Vec<FormField>,
    /// When the whole request had arrived.
    pub received_at: Instant,
    /// `HTTP/1.1` (or `HTTP/1.0`), or `HTTP/2` (h2c).
    pub version: &'static str,
}

impl RecordedRequest {
    pub(crate) fn new(req: &Request, json: Option<&Value>, received_at: Instant) -> Self {
        let form = req
            .header("content-type")
            .and_then(|ct| super::multipart::parse(ct, &req.body))
            .unwrap_or_default();
        Self {
            method: req.method.clone(),
            path: req.path.clone(),
            query: req.query.clone(),
            headers: req.headers.clone(),
            body_len: req.body.len(),
            json: json.cloned(),
            form,
            received_at,
            version: req.version,
        }
    }

    /// The first header with this name (give it lowercase).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The `model` of a JSON body or form, if any.
    pub fn model(&self) -> Option<&str> {
        self.json
            .as_ref()
            .and_then(|j| j.get("model"))
            .and_then(Value::as_str)
            .or_else(|| self.form_value("model"))
    }

    /// The text value of a form field.
    pub fn form_value(&self, name: &str) -> Option<&str> {
        self.form
            .iter()
            .find(|f| f.name == name)
            .and_then(|f| f.value.as_deref())
    }
}
