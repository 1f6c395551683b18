//! Vertex AI (41) and AWS Bedrock (33) channels through the relay, for OpenAI clients. One mock
//! plays Google's OAuth token endpoint (it verifies the relay's RS256-signed JWT assertion with
//! the service account's public key), Vertex AI (it wants the token as Bearer), and Bedrock (it
//! recomputes the SigV4 signature of what it received and answers streams in AWS's binary
//! event-stream framing). The token is fetched once and reused; answers are converted and
//! billed exactly. On SQLite and on MySQL + Redis.

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use pylon_shared::llm::provider::eventstream;
use pylon_shared::llm::provider::sigv4::{Credentials, Signable, authorization};
use pylon_tests::fixtures::*;
use pylon_tests::{Backend, Pylon, on_every_backend};
use serde_json::{Value, json};
use sqlx::Row;
use std::sync::{Arc, Mutex, OnceLock};

const VERTEX_MODEL: &str = "gemini-vertex-test";
const BEDROCK_MODEL: &str = "anthropic.claude-bedrock-test";
const ACCESS_TOKEN: &str = "ya29.vertex-test-token";
const ACCESS_KEY: &str = "AKIDPYLONTEST";
const SECRET_KEY: &str = "pylon-test-secret";
const REGION: &str = "us-east-1";
const PROJECT: &str = "pylon-project";
const PROMPT: i64 = 20;
const COMPLETION: i64 = 6;

/// A throwaway RSA key pair made at test time: (PKCS#8 private PEM, PKCS#1 public DER).
fn keys() -> &'static (String, Vec<u8>) {
    use rand_chacha::ChaCha20Rng;
    use rand_chacha::rand_core::SeedableRng;
    use rsa::pkcs1::EncodeRsaPublicKey;
    use rsa::pkcs8::{EncodePrivateKey, LineEnding};
    static KEYS: OnceLock<(String, Vec<u8>)> = OnceLock::new();
    KEYS.get_or_init(|| {
        let mut rng = ChaCha20Rng::seed_from_u64(7);
        let private = rsa::RsaPrivateKey::new(&mut rng, 2048).expect("an RSA key");
        (
            private
                .to_pkcs8_pem(LineEnding::LF)
                .expect("PKCS#8")
                .to_string(),
            private
                .to_public_key()
                .to_pkcs1_der()
                .expect("PKCS#1")
                .as_bytes()
                .to_vec(),
        )
    })
}

#[derive(Default)]
struct Seen {
    token_exchanges: usize,
    /// (path and query, headers, body) of every model call.
    calls: Vec<(String, HeaderMap, Value)>,
    /// Why a request was refused, if one was.
    refusals: Vec<String>,
}

#[derive(Clone)]
struct Mock {
    seen: Arc<Mutex<Seen>>,
    token_uri: String,
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> &'a str {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

fn refuse(mock: &Mock, status: StatusCode, why: String) -> Response {
    mock.seen.lock().unwrap().refusals.push(why.clone());
    (
        status,
        axum::Json(json!({"error": {"code": status.as_u16(), "message": why}})),
    )
        .into_response()
}

async fn handle(
    State(mock): State<Mock>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().to_string();
    if method != Method::POST {
        return refuse(
            &mock,
            StatusCode::METHOD_NOT_ALLOWED,
            format!("{method} {path}"),
        );
    }
    if path == "/token" {
        return token(&mock, &body);
    }
    let json: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let path_and_query = uri
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_default();
    mock.seen
        .lock()
        .unwrap()
        .calls
        .push((path_and_query, headers.clone(), json.clone()));
    if path.starts_with("/v1/projects/") {
        vertex(&mock, &path, &headers, &json)
    } else if path.starts_with("/model/") {
        bedrock(&mock, &path, &headers, &body)
    } else {
        refuse(&mock, StatusCode::NOT_FOUND, format!("unknown path {path}"))
    }
}

fn token(mock: &Mock, body: &[u8]) -> Response {
    mock.seen.lock().unwrap().token_exchanges += 1;
    let form: Vec<(String, String)> = url::form_urlencoded::parse(body).into_owned().collect();
    let field = |name: &str| {
        form.iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    if field("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer" {
        return refuse(mock, StatusCode::BAD_REQUEST, "grant_type".into());
    }
    let mut validation = Validation::new(Algorithm::RS256);
    validation.set_audience(&[mock.token_uri.as_str()]);
    let key = DecodingKey::from_rsa_der(&keys().1);
    match jsonwebtoken::decode::<Value>(&field("assertion"), &key, &validation) {
        Ok(data) if data.claims["scope"] == "https://www.googleapis.com/auth/cloud-platform" => {
            axum::Json(
                json!({"access_token": ACCESS_TOKEN, "expires_in": 3599, "token_type": "Bearer"}),
            )
            .into_response()
        }
        Ok(data) => refuse(
            mock,
            StatusCode::BAD_REQUEST,
            format!("claims {}", data.claims),
        ),
        Err(error) => refuse(mock, StatusCode::BAD_REQUEST, format!("assertion: {error}")),
    }
}

fn vertex(mock: &Mock, path: &str, headers: &HeaderMap, body: &Value) -> Response {
    if header(headers, "authorization") != format!("Bearer {ACCESS_TOKEN}") {
        return refuse(mock, StatusCode::UNAUTHORIZED, "no access token".into());
    }
    let prefix = format!(
        "/v1/projects/{PROJECT}/locations/us-central1/publishers/google/models/{VERTEX_MODEL}:"
    );
    let Some(action) = path.strip_prefix(&prefix) else {
        return refuse(mock, StatusCode::NOT_FOUND, format!("vertex path {path}"));
    };
    if body["contents"][0]["parts"][0]["text"] != "Hello" {
        return refuse(mock, StatusCode::BAD_REQUEST, format!("body {body}"));
    }
    let usage = json!({"promptTokenCount": PROMPT, "candidatesTokenCount": COMPLETION,
                       "totalTokenCount": PROMPT + COMPLETION});
    let part = |text: &str| json!({"content": {"role": "model", "parts": [{"text": text}]}});
    match action {
        "generateContent" => {
            let mut candidate = part("Hi there");
            candidate["finishReason"] = json!("STOP");
            axum::Json(json!({"candidates": [candidate], "usageMetadata": usage,
                              "modelVersion": VERTEX_MODEL}))
            .into_response()
        }
        "streamGenerateContent" => {
            let mut last = part(" there");
            last["finishReason"] = json!("STOP");
            let events = [
                json!({"candidates": [part("Hi")], "modelVersion": VERTEX_MODEL}),
                json!({"candidates": [last], "usageMetadata": usage, "modelVersion": VERTEX_MODEL}),
            ];
            let text: String = events
                .iter()
                .map(|e| format!("data: {e}\r\n\r\n"))
                .collect();
            ([("content-type", "text/event-stream")], text).into_response()
        }
        other => refuse(
            mock,
            StatusCode::NOT_FOUND,
            format!("vertex action {other}"),
        ),
    }
}

/// Recomputes the SigV4 signature over the headers the request says it signed.
fn signature_ok(path: &str, headers: &HeaderMap, body: &[u8]) -> Result<(), String> {
    let given = header(headers, "authorization");
    let signed = given
        .split("SignedHeaders=")
        .nth(1)
        .and_then(|rest| rest.split(',').next())
        .ok_or_else(|| format!("no SigV4 authorization: {given}"))?;
    let signed_headers: Vec<(String, String)> = signed
        .split(';')
        .map(|name| (name.to_string(), header(headers, name).to_string()))
        .collect();
    let credentials = Credentials {
        access_key_id: ACCESS_KEY.into(),
        secret_access_key: SECRET_KEY.into(),
        session_token: None,
    };
    let signable = Signable {
        method: "POST",
        path,
        query: "",
        headers: &signed_headers,
        payload: body,
    };
    let expected = authorization(
        &credentials,
        REGION,
        "bedrock",
        header(headers, "x-amz-date"),
        &signable,
    );
    if expected != given {
        return Err(format!("signature mismatch: {given} != {expected}"));
    }
    if !signed.contains("host") || !signed.contains("x-amz-date") {
        return Err(format!("host and date must be signed: {signed}"));
    }
    Ok(())
}

fn bedrock(mock: &Mock, path: &str, headers: &HeaderMap, raw: &[u8]) -> Response {
    if let Err(why) = signature_ok(path, headers, raw) {
        return refuse(mock, StatusCode::FORBIDDEN, why);
    }
    let body: Value = serde_json::from_slice(raw).unwrap_or(Value::Null);
    if body["anthropic_version"] != "bedrock-2023-05-31" || body.get("model").is_some() {
        return refuse(mock, StatusCode::BAD_REQUEST, format!("body {body}"));
    }
    let message = |output: i64| {
        json!({"id": "msg_bedrock", "type": "message", "role": "assistant",
               "model": BEDROCK_MODEL, "content": [], "stop_reason": null,
               "usage": {"input_tokens": PROMPT, "output_tokens": output}})
    };
    if path == format!("/model/{BEDROCK_MODEL}/invoke") {
        let mut answer = message(COMPLETION);
        answer["content"] = json!([{"type": "text", "text": "Hi there"}]);
        answer["stop_reason"] = json!("end_turn");
        return axum::Json(answer).into_response();
    }
    if path != format!("/model/{BEDROCK_MODEL}/invoke-with-response-stream") {
        return refuse(mock, StatusCode::NOT_FOUND, format!("bedrock path {path}"));
    }
    let events = [
        json!({"type": "message_start", "message": message(1)}),
        json!({"type": "content_block_start", "index": 0,
               "content_block": {"type": "text", "text": ""}}),
        json!({"type": "content_block_delta", "index": 0,
               "delta": {"type": "text_delta", "text": "Hi there"}}),
        json!({"type": "content_block_stop", "index": 0}),
        json!({"type": "message_delta", "delta": {"stop_reason": "end_turn"},
               "usage": {"output_tokens": COMPLETION}}),
        json!({"type": "message_stop"}),
    ];
    let mut framed = Vec::new();
    for event in events {
        let bytes = base64::engine::general_purpose::STANDARD.encode(event.to_string());
        framed.extend(eventstream::encode(
            &[
                (":event-type", "chunk"),
                (":content-type", "application/json"),
                (":message-type", "event"),
            ],
            json!({"bytes": bytes}).to_string().as_bytes(),
        ));
    }
    (
        [("content-type", "application/vnd.amazon.eventstream")],
        framed,
    )
        .into_response()
}

async fn start_mock() -> (Mock, String) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let mock = Mock {
        seen: Arc::default(),
        token_uri: format!("{base}/token"),
    };
    let app = Router::new().fallback(handle).with_state(mock.clone());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (mock, base)
}

async fn chat(pylon: &Pylon, key: &str, model: &str, stream: bool) -> (u16, String) {
    let answer = reqwest::Client::new()
        .post(format!("{}/v1/chat/completions", pylon.base_url))
        .bearer_auth(key)
        .json(&json!({"model": model, "stream": stream, "max_tokens": 64,
                      "messages": [{"role": "user", "content": "Hello"}]}))
        .send()
        .await
        .expect("relay reachable");
    let status = answer.status().as_u16();
    (status, answer.text().await.expect("body"))
}

async fn vertex_and_bedrock(backend: Backend) {
    let (mock, base) = start_mock().await;
    let pylon = Pylon::start(backend).await;
    let console = root_console(&pylon).await;
    let models = [VERTEX_MODEL, BEDROCK_MODEL];
    let ratio: serde_json::Map<String, Value> =
        models.iter().map(|m| (m.to_string(), json!(1.5))).collect();
    let completion: serde_json::Map<String, Value> =
        models.iter().map(|m| (m.to_string(), json!(2))).collect();
    set_option(&console, "ModelRatio", &Value::Object(ratio).to_string()).await;
    set_option(
        &console,
        "CompletionRatio",
        &Value::Object(completion).to_string(),
    )
    .await;
    let account = json!({
        "type": "service_account", "project_id": PROJECT, "private_key_id": "kid-1",
        "private_key": keys().0, "client_email": "relay@pylon-project.iam.gserviceaccount.com",
        "token_uri": mock.token_uri,
    });
    create_channel(
        &console,
        json!({"type": 41, "name": "vertex", "key": account.to_string(), "base_url": base,
               "models": VERTEX_MODEL, "group": "default"}),
    )
    .await;
    create_channel(
        &console,
        json!({"type": 33, "name": "bedrock", "key": format!("{ACCESS_KEY}|{SECRET_KEY}|{REGION}"),
               "base_url": base, "models": BEDROCK_MODEL, "group": "default"}),
    )
    .await;
    let (_, key) = create_key(&console, "cloud-key", 10_000_000, true).await;
    for model in models {
        wait_until_routable(&pylon, &key, model).await;
    }
    let db = database(&pylon).await;
    let before = scalar(&db, "SELECT quota FROM users WHERE id = 1").await;

    for model in models {
        let (status, body) = chat(&pylon, &key, model, false).await;
        assert_eq!(
            status,
            200,
            "{model}: {body} {:?}",
            mock.seen.lock().unwrap().refusals
        );
        let answer: Value = serde_json::from_str(&body).expect("JSON");
        assert_eq!(
            answer["choices"][0]["message"]["content"], "Hi there",
            "{answer}"
        );
        assert_eq!(answer["model"], model);
        assert_eq!(answer["usage"]["prompt_tokens"], PROMPT);
        assert_eq!(answer["usage"]["completion_tokens"], COMPLETION);

        let (status, text) = chat(&pylon, &key, model, true).await;
        assert_eq!(
            status,
            200,
            "{model}: {text} {:?}",
            mock.seen.lock().unwrap().refusals
        );
        assert!(text.contains("chat.completion.chunk"), "{text}");
        let content: String = text
            .lines()
            .filter_map(|l| l.strip_prefix("data: "))
            .filter_map(|d| serde_json::from_str::<Value>(d).ok())
            .filter_map(|c| {
                c["choices"][0]["delta"]["content"]
                    .as_str()
                    .map(str::to_string)
            })
            .collect();
        assert_eq!(content, "Hi there", "{text}");
        assert!(text.trim_end().ends_with("data: [DONE]"), "{text}");
    }
    {
        let seen = mock.seen.lock().unwrap();
        assert!(seen.refusals.is_empty(), "{:?}", seen.refusals);
        assert_eq!(seen.token_exchanges, 1, "the Vertex token is cached");
        assert_eq!(seen.calls.len(), 4);
        assert!(
            seen.calls
                .iter()
                .any(|(path, _, _)| path.ends_with(":streamGenerateContent?alt=sse")),
            "Vertex streams asked as SSE"
        );
        assert!(seen.calls.iter().any(|(path, headers, _)| {
            path.ends_with("/invoke-with-response-stream")
                && header(headers, "accept") == "application/vnd.amazon.eventstream"
        }));
    }

    eventually_equals(&db, "SELECT COUNT(*) FROM logs WHERE type = 2", 4).await;
    let rows = sqlx::query(
        "SELECT prompt_tokens, completion_tokens, quota, is_estimated FROM logs WHERE type = 2",
    )
    .fetch_all(&db)
    .await
    .expect("logs");
    let expected = ((PROMPT as f64 + COMPLETION as f64 * 2.0) * 1.5).round() as i64;
    for row in &rows {
        assert_eq!(
            (row.get::<i64, _>(0), row.get::<i64, _>(1)),
            (PROMPT, COMPLETION)
        );
        assert_eq!(row.get::<i64, _>(2), expected);
        assert_eq!(row.get::<i64, _>(3), 0, "usage read from the upstream");
    }
    eventually_equals(
        &db,
        "SELECT quota FROM users WHERE id = 1",
        before - 4 * expected,
    )
    .await;
}
on_every_backend!(vertex_and_bedrock);
