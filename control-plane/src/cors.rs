//! new-api's open CORS for the routes a key calls from any web page (`GET /api/log/token`,
//! `GET /api/usage/token/`):
//! with an `Origin`, any origin may read the answer (`*`: no cookies, the key travels in
//! `Authorization`), and the preflight `OPTIONS` is answered 204 with the methods and headers
//! allowed and how long a browser may remember them (12 hours, gin's CORS default).

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

const METHODS: &str = "GET, POST, PUT, DELETE, OPTIONS";
const MAX_AGE_SECS: &str = "43200";

/// `answer` with the CORS headers a request from another origin needs (unchanged without
/// `Origin`).
pub fn allow(request: &HeaderMap, mut answer: Response) -> Response {
    if request.contains_key(header::ORIGIN) {
        let headers = answer.headers_mut();
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_ORIGIN,
            HeaderValue::from_static("*"),
        );
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static(METHODS),
        );
        let asked = request
            .get(header::ACCESS_CONTROL_REQUEST_HEADERS)
            .cloned()
            .unwrap_or_else(|| HeaderValue::from_static("*"));
        headers.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, asked);
        headers.insert(
            header::ACCESS_CONTROL_MAX_AGE,
            HeaderValue::from_static(MAX_AGE_SECS),
        );
    }
    answer
}

/// The answer to a preflight `OPTIONS` request.
pub fn preflight(request: &HeaderMap) -> Response {
    allow(request, StatusCode::NO_CONTENT.into_response())
}
