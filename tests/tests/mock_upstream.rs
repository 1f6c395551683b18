//! The mock LLM upstream (`pylon_benches::mock`) that the relay tests and benchmarks run
//! against: provider formats, usage reporting, pacing, injected failures and recording.

use futures::StreamExt;
use pylon_benches::mock::{MockConfig, MockUpstream};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

const CHAT: &str = "/v1/chat/completions";

/// One server-sent event and when it arrived, counted from when the request was sent.
#[derive(Debug)]
struct Event {
    at: Duration,
    name: Option<String>,
    data: String,
}

impl Event {
    fn json(&self) -> Value {
        serde_json::from_str(&self.data).unwrap_or(Value::Null)
    }
}

/// A started mock and a client for it.
struct Mock {
    upstream: MockUpstream,
    client: reqwest::Client,
}

impl Mock {
    async fn start(config: MockConfig) -> Self {
        Self {
            upstream: MockUpstream::start(config).await.expect("mock starts"),
            client: reqwest::Client::new(),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.upstream.base_url())
    }

    async fn post(&self, path: &str, headers: &[(&str, &str)], body: Value) -> reqwest::Response {
        let mut request = self.client.post(self.url(path)).json(&body);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request.send().await.expect("mock answers")
    }

    /// POSTs and returns the status and the JSON body (`Null` when not JSON).
    async fn answer(&self, path: &str, headers: &[(&str, &str)], body: Value) -> (u16, Value) {
        let response = self.post(path, headers, body).await;
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// POSTs a streaming request; returns the events and whether the body ended cleanly.
    async fn stream(
        &self,
        path: &str,
        headers: &[(&str, &str)],
        body: Value,
    ) -> (Vec<Event>, bool) {
        let sent = Instant::now();
        let response = self.post(path, headers, body).await;
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["content-type"], "text/event-stream");
        read_events(response, sent).await
    }
}

async fn read_events(response: reqwest::Response, sent: Instant) -> (Vec<Event>, bool) {
    let mut body = response.bytes_stream();
    let mut buffer = String::new();
    let mut events = Vec::new();
    while let Some(chunk) = body.next().await {
        let Ok(chunk) = chunk else {
            return (events, false);
        };
        buffer.push_str(std::str::from_utf8(&chunk).expect("UTF-8 events"));
        // Gemini separates events with CRLF CRLF.
        buffer = buffer.replace("\r\n", "\n");
        while let Some(end) = buffer.find("\n\n") {
            let block: String = buffer.drain(..end + 2).collect();
            let mut event = Event {
                at: sent.elapsed(),
                name: None,
                data: String::new(),
            };
            for line in block.lines() {
                if let Some(name) = line.strip_prefix("event: ") {
                    event.name = Some(name.to_string());
                } else if let Some(data) = line.strip_prefix("data: ") {
                    event.data.push_str(data);
                }
            }
            events.push(event);
        }
    }
    (events, true)
}

fn chat_body(stream: bool) -> Value {
    json!({"model": "gpt-test-1", "stream": stream, "messages": [{"role": "user", "content": "hi"}]})
}

fn text_of(value: &Value) -> &str {
    value.as_str().expect("a string")
}

#[tokio::test]
async fn chat_json_echoes_the_model_and_records_the_request() {
    let mock = Mock::start(MockConfig::default()).await;
    let body = chat_body(false);
    let (status, answer) = mock
        .answer(CHAT, &[("X-Custom", "Yes")], body.clone())
        .await;
    assert_eq!(status, 200);
    assert_eq!(answer["object"], "chat.completion");
    assert_eq!(answer["model"], "gpt-test-1");
    assert!(text_of(&answer["id"]).starts_with("chatcmpl-"));
    let choice = &answer["choices"][0];
    assert_eq!(choice["message"]["role"], "assistant");
    assert!(text_of(&choice["message"]["content"]).starts_with("Hello from the mock"));
    assert_eq!(choice["finish_reason"], "stop");
    let usage = &answer["usage"];
    assert_eq!(usage["prompt_tokens"], 10);
    assert_eq!(usage["completion_tokens"], 10);
    assert_eq!(usage["total_tokens"], 20);
    assert_eq!(usage["prompt_tokens_details"]["cached_tokens"], 0);

    assert_eq!(mock.upstream.request_count(), 1);
    let recorded = &mock.upstream.requests()[0];
    assert_eq!(
        (recorded.method.as_str(), recorded.path.as_str()),
        ("POST", CHAT)
    );
    assert_eq!(recorded.header("x-custom"), Some("Yes"));
    assert_eq!(recorded.json.as_ref(), Some(&body));
    assert_eq!(recorded.body_len, body.to_string().len());
    assert_eq!(recorded.model(), Some("gpt-test-1"));

    // Usage and padding are configurable per request.
    let headers = [
        ("x-mock-usage", "1000,42,300"),
        ("x-mock-response-bytes", "1000"),
        ("x-mock-chunks", "4"),
    ];
    let (_, answer) = mock.answer(CHAT, &headers, chat_body(false)).await;
    let usage = &answer["usage"];
    assert_eq!(usage["prompt_tokens"], 1000);
    assert_eq!(usage["completion_tokens"], 42);
    assert_eq!(usage["total_tokens"], 1042);
    assert_eq!(usage["prompt_tokens_details"]["cached_tokens"], 300);
    assert_eq!(
        text_of(&answer["choices"][0]["message"]["content"]).len(),
        1000
    );
    mock.upstream.shutdown().await;
}

#[tokio::test]
async fn chat_stream_has_a_usage_chunk_only_when_asked() {
    let mock = Mock::start(MockConfig::default()).await;
    let five = [("x-mock-chunks", "5")];

    let (plain, clean) = mock.stream(CHAT, &five, chat_body(true)).await;
    assert!(clean);
    // Role chunk, 5 content chunks, finish chunk, [DONE].
    assert_eq!(plain.len(), 8, "{plain:?}");
    assert_eq!(plain[7].data, "[DONE]");
    for event in &plain[..7] {
        let chunk = event.json();
        assert_eq!(chunk["object"], "chat.completion.chunk");
        assert_eq!(chunk["model"], "gpt-test-1");
        assert!(
            chunk.get("usage").is_none(),
            "no usage key unless asked: {chunk}"
        );
    }
    assert_eq!(plain[0].json()["choices"][0]["delta"]["role"], "assistant");
    let text: String = plain[1..6]
        .iter()
        .map(|e| text_of(&e.json()["choices"][0]["delta"]["content"]).to_string())
        .collect();
    assert_eq!(text, "Hello from the mock upstream");
    assert_eq!(plain[6].json()["choices"][0]["finish_reason"], "stop");

    let mut asking = chat_body(true);
    asking["stream_options"] = json!({"include_usage": true});
    let (with_usage, clean) = mock.stream(CHAT, &five, asking.clone()).await;
    assert!(clean);
    assert_eq!(with_usage.len(), 9, "{with_usage:?}");
    assert_eq!(with_usage[8].data, "[DONE]");
    let usage_chunk = with_usage[7].json();
    assert_eq!(usage_chunk["choices"], json!([]));
    assert_eq!(usage_chunk["usage"]["prompt_tokens"], 10);
    assert_eq!(
        usage_chunk["usage"]["completion_tokens"], 5,
        "one token per chunk"
    );
    assert_eq!(usage_chunk["usage"]["total_tokens"], 15);
    for event in &with_usage[..7] {
        assert_eq!(
            event.json().get("usage"),
            Some(&Value::Null),
            "others carry usage: null"
        );
    }

    let no_usage = [("x-mock-chunks", "5"), ("x-mock-no-usage", "1")];
    let (suppressed, _) = mock.stream(CHAT, &no_usage, asking).await;
    assert_eq!(suppressed.len(), 8);
    assert!(suppressed.iter().all(|e| e.json()["usage"].is_null()));
    mock.upstream.shutdown().await;
}

#[tokio::test]
async fn chunks_follow_delay_ttft_and_interval() {
    let mock = Mock::start(MockConfig {
        ttft_ms: 150,
        chunk_interval_ms: 60,
        chunks: 4,
        ..MockConfig::default()
    })
    .await;
    let (events, clean) = mock.stream(CHAT, &[], chat_body(true)).await;
    assert!(clean);
    let content: Vec<&Event> = events
        .iter()
        .filter(|e| {
            let delta = &e.json()["choices"][0]["delta"]["content"];
            delta.as_str().is_some_and(|c| !c.is_empty())
        })
        .collect();
    assert_eq!(content.len(), 4);
    // Lower bounds and order only: a loaded machine may be late, never early.
    assert!(
        content[0].at >= Duration::from_millis(150),
        "first at {:?}",
        content[0].at
    );
    assert!(
        content[3].at >= Duration::from_millis(330),
        "last at {:?}",
        content[3].at
    );
    assert!(events.windows(2).all(|w| w[0].at <= w[1].at));

    // x-mock-delay-ms holds back the response head.
    let sent = Instant::now();
    let response = mock
        .post(CHAT, &[("x-mock-delay-ms", "120")], chat_body(false))
        .await;
    assert!(sent.elapsed() >= Duration::from_millis(120));
    assert_eq!(response.status(), 200);
    mock.upstream.shutdown().await;
}

#[tokio::test]
async fn injected_errors_use_the_provider_format() {
    let mock = Mock::start(MockConfig::default()).await;
    let limited = [("x-mock-status", "429"), ("x-mock-retry-after", "2")];
    let response = mock.post(CHAT, &limited, chat_body(true)).await;
    assert_eq!(response.status(), 429);
    assert_eq!(response.headers()["retry-after"], "2");
    let body: Value = response.json().await.expect("JSON");
    assert_eq!(body["error"]["code"], "rate_limit_exceeded");
    assert!(body["error"]["message"].is_string());

    let response = mock
        .post(CHAT, &[("x-mock-error-rate", "1")], chat_body(false))
        .await;
    assert_eq!(response.status(), 500);
    assert!(response.headers().get("retry-after").is_none());
    let body: Value = response.json().await.expect("JSON");
    assert_eq!(body["error"]["type"], "server_error");

    let (status, body) = mock
        .answer("/v1/messages", &[("x-mock-status", "529")], json!({}))
        .await;
    assert_eq!(status, 529);
    assert_eq!(body["type"], "error");
    assert_eq!(body["error"]["type"], "overloaded_error");

    let gemini = "/v1beta/models/gemini-2.5-flash:generateContent";
    let (status, body) = mock
        .answer(gemini, &[("x-mock-status", "429")], json!({}))
        .await;
    assert_eq!(status, 429);
    assert_eq!(body["error"]["status"], "RESOURCE_EXHAUSTED");

    // Config-level: every request fails until the config changes back.
    mock.upstream.set_config(MockConfig {
        status: Some(401),
        ..MockConfig::default()
    });
    let (status, body) = mock.answer(CHAT, &[], chat_body(false)).await;
    assert_eq!(status, 401);
    assert_eq!(body["error"]["code"], "invalid_api_key");
    mock.upstream.set_config(MockConfig::default());
    assert_eq!(mock.answer(CHAT, &[], chat_body(false)).await.0, 200);

    // A typo in a knob is a clear 400, not a silent default.
    let (status, body) = mock
        .answer(CHAT, &[("x-mock-chunks", "many")], chat_body(false))
        .await;
    assert_eq!(status, 400);
    assert!(text_of(&body["error"]["message"]).contains("x-mock-chunks"));
    mock.upstream.shutdown().await;
}

#[tokio::test]
async fn abort_after_chunks_cuts_the_connection() {
    let mock = Mock::start(MockConfig::default()).await;
    let mut body = chat_body(true);
    body["stream_options"] = json!({"include_usage": true});
    let abort = [("x-mock-abort-after-chunks", "2")];
    let (events, clean) = mock.stream(CHAT, &abort, body).await;
    assert!(!clean, "the body must end in an error, not cleanly");
    // Role chunk and two content chunks; no finish, usage or [DONE].
    assert_eq!(events.len(), 3, "{events:?}");
    assert!(events.iter().all(|e| e.data != "[DONE]"));
    assert!(events.iter().all(|e| e.json()["usage"].is_null()));

    // The mock still serves new connections afterwards.
    assert_eq!(mock.answer(CHAT, &[], chat_body(false)).await.0, 200);
    mock.upstream.shutdown().await;
}

#[tokio::test]
async fn anthropic_messages_report_usage_in_start_and_delta() {
    let mock = Mock::start(MockConfig::default()).await;
    let body = json!({
        "model": "claude-test", "max_tokens": 100, "stream": true,
        "messages": [{"role": "user", "content": "hi"}],
    });
    let knobs = [("x-mock-usage", "120,7,30"), ("x-mock-chunks", "3")];
    let (events, clean) = mock.stream("/v1/messages", &knobs, body.clone()).await;
    assert!(clean);
    let names: Vec<&str> = events
        .iter()
        .map(|e| e.name.as_deref().unwrap_or(""))
        .collect();
    assert_eq!(
        names,
        [
            "message_start",
            "content_block_start",
            "ping",
            "content_block_delta",
            "content_block_delta",
            "content_block_delta",
            "content_block_stop",
            "message_delta",
            "message_stop",
        ]
    );
    let start = events[0].json();
    assert_eq!(start["message"]["model"], "claude-test");
    assert_eq!(start["message"]["usage"]["input_tokens"], 120);
    assert_eq!(start["message"]["usage"]["cache_read_input_tokens"], 30);
    assert_eq!(events[3].json()["delta"]["type"], "text_delta");
    assert_eq!(events[7].json()["usage"]["output_tokens"], 7);
    assert_eq!(events[7].json()["delta"]["stop_reason"], "end_turn");

    let mut plain = body;
    plain["stream"] = false.into();
    let (_, message) = mock.answer("/v1/messages", &[], plain).await;
    assert_eq!(message["type"], "message");
    assert_eq!(message["content"][0]["type"], "text");
    assert_eq!(message["usage"]["input_tokens"], 10);
    assert_eq!(message["usage"]["output_tokens"], 10);

    // Anthropic's own validation: max_tokens is required.
    let incomplete = json!({"model": "claude-test", "messages": []});
    let (status, error) = mock.answer("/v1/messages", &[], incomplete).await;
    assert_eq!(status, 400);
    assert_eq!(error["error"]["type"], "invalid_request_error");
    mock.upstream.shutdown().await;
}

#[tokio::test]
async fn gemini_stream_puts_full_usage_on_the_final_chunk() {
    let mock = Mock::start(MockConfig::default()).await;
    let path = "/v1beta/models/gemini-test:streamGenerateContent?alt=sse";
    let body = json!({"contents": [{"role": "user", "parts": [{"text": "hi"}]}]});
    let knobs = [("x-mock-usage", "50,,20"), ("x-mock-chunks", "3")];
    let (events, clean) = mock.stream(path, &knobs, body.clone()).await;
    assert!(clean);
    assert_eq!(events.len(), 4);
    for event in &events[..3] {
        let chunk = event.json();
        assert_eq!(chunk["modelVersion"], "gemini-test");
        assert_eq!(chunk["usageMetadata"]["promptTokenCount"], 50);
        assert!(chunk["usageMetadata"].get("candidatesTokenCount").is_none());
    }
    let last = events[3].json();
    assert_eq!(last["candidates"][0]["finishReason"], "STOP");
    let usage = &last["usageMetadata"];
    assert_eq!(usage["promptTokenCount"], 50);
    assert_eq!(usage["candidatesTokenCount"], 3);
    assert_eq!(usage["totalTokenCount"], 53);
    assert_eq!(usage["cachedContentTokenCount"], 20);

    let generate = "/v1beta/models/gemini-test:generateContent";
    let (_, answer) = mock.answer(generate, &[], body).await;
    assert_eq!(answer["candidates"][0]["content"]["role"], "model");
    assert_eq!(answer["usageMetadata"]["candidatesTokenCount"], 10);
    let cached = answer["usageMetadata"].get("cachedContentTokenCount");
    assert!(cached.is_none(), "zero counts are omitted, as Google does");
    mock.upstream.shutdown().await;
}

#[tokio::test]
async fn large_bodies_are_accepted_and_recorded() {
    let mock = Mock::start(MockConfig::default()).await;
    let prompt = "x".repeat(1024 * 1024);
    let body = json!({"model": "gpt-test-1", "messages": [{"role": "user", "content": prompt}]});
    let size = body.to_string().len();
    assert_eq!(mock.answer(CHAT, &[], body).await.0, 200);
    let recorded = mock.upstream.requests();
    assert_eq!(recorded[0].body_len, size);
    let content = &recorded[0].json.as_ref().expect("parsed")["messages"][0]["content"];
    assert_eq!(text_of(content).len(), 1024 * 1024);

    // A chunked request body (as a proxy may send it) is reassembled.
    let pieces: Vec<Result<Vec<u8>, std::io::Error>> = (0..16)
        .map(|_| Ok(vec![b' '; 65536]))
        .chain([Ok(br#"{"model":"m"}"#.to_vec())])
        .collect();
    let response = mock
        .client
        .post(mock.url(CHAT))
        .header("content-type", "application/json")
        .body(reqwest::Body::wrap_stream(futures::stream::iter(pieces)))
        .send()
        .await
        .expect("mock answers");
    assert_eq!(response.status(), 200);
    let recorded = mock.upstream.requests();
    assert_eq!(recorded[1].header("transfer-encoding"), Some("chunked"));
    assert_eq!(recorded[1].body_len, 16 * 65536 + 13);
    assert_eq!(recorded[1].model(), Some("m"));

    // Above the limit: 413.
    mock.upstream.set_config(MockConfig {
        max_body_bytes: 1000,
        ..MockConfig::default()
    });
    let padded = json!({"model": "m", "pad": "y".repeat(4 << 20)});
    assert_eq!(mock.answer(CHAT, &[], padded).await.0, 413);
    mock.upstream.shutdown().await;
}

#[tokio::test]
async fn multipart_transcription_is_answered_and_recorded() {
    let mock = Mock::start(MockConfig::default()).await;
    let audio = vec![7u8; 300_000];
    let mut body = b"--b0undary\r\nContent-Disposition: form-data; name=\"model\"\r\n\r\n\
        gpt-4o-transcribe\r\n--b0undary\r\nContent-Disposition: form-data; name=\"file\"; \
        filename=\"speech.mp3\"\r\nContent-Type: audio/mpeg\r\n\r\n"
        .to_vec();
    body.extend_from_slice(&audio);
    body.extend_from_slice(b"\r\n--b0undary--\r\n");
    let response = mock
        .client
        .post(mock.url("/v1/audio/transcriptions"))
        .header("content-type", "multipart/form-data; boundary=b0undary")
        .body(body.clone())
        .send()
        .await
        .expect("mock answers");
    assert_eq!(response.status(), 200);
    let answer: Value = response.json().await.expect("JSON");
    assert!(!text_of(&answer["text"]).is_empty());
    assert_eq!(answer["usage"]["input_tokens"], 10);

    let recorded = &mock.upstream.requests()[0];
    assert_eq!(recorded.body_len, body.len());
    assert_eq!(recorded.model(), Some("gpt-4o-transcribe"));
    let file = recorded
        .form
        .iter()
        .find(|f| f.name == "file")
        .expect("file part");
    assert_eq!(file.len, audio.len());
    assert_eq!(file.filename.as_deref(), Some("speech.mp3"));
    mock.upstream.shutdown().await;
}

#[tokio::test]
async fn other_openai_endpoints() {
    let mock = Mock::start(MockConfig {
        chunks: 3,
        cached_tokens: 4,
        ..MockConfig::default()
    })
    .await;

    let prompt = json!({"model": "instruct", "prompt": "hi"});
    let (_, answer) = mock.answer("/v1/completions", &[], prompt).await;
    assert_eq!(answer["object"], "text_completion");
    assert_eq!(answer["choices"][0]["text"], "Hello from the");
    let body = json!({
        "model": "instruct", "prompt": "hi", "stream": true,
        "stream_options": {"include_usage": true},
    });
    let (events, _) = mock.stream("/v1/completions", &[], body).await;
    assert_eq!(events.len(), 6, "{events:?}");
    assert_eq!(events[4].json()["usage"]["completion_tokens"], 3);

    let body = json!({"model": "emb", "input": ["a", "b"], "dimensions": 5});
    let (_, answer) = mock.answer("/v1/embeddings", &[], body).await;
    assert_eq!(answer["data"].as_array().map(Vec::len), Some(2));
    assert_eq!(
        answer["data"][1]["embedding"].as_array().map(Vec::len),
        Some(5)
    );
    assert_eq!(answer["usage"]["prompt_tokens"], 10);

    let body = json!({"model": "gpt-r", "input": "hi"});
    let (_, answer) = mock.answer("/v1/responses", &[], body.clone()).await;
    assert_eq!(answer["object"], "response");
    assert_eq!(answer["output"][0]["content"][0]["text"], "Hello from the");
    assert_eq!(answer["usage"]["input_tokens_details"]["cached_tokens"], 4);
    let mut streamed = body;
    streamed["stream"] = true.into();
    let (events, clean) = mock.stream("/v1/responses", &[], streamed).await;
    assert!(clean);
    assert_eq!(events[0].name.as_deref(), Some("response.created"));
    let is_delta = |e: &&Event| e.name.as_deref() == Some("response.output_text.delta");
    assert_eq!(events.iter().filter(is_delta).count(), 3);
    let completed = events.last().expect("events");
    assert_eq!(completed.name.as_deref(), Some("response.completed"));
    let usage = &completed.json()["response"]["usage"];
    assert_eq!(usage["input_tokens"], 10);
    assert_eq!(usage["output_tokens"], 3);
    assert_eq!(usage["total_tokens"], 13);
    assert_eq!(usage["input_tokens_details"]["cached_tokens"], 4);
    let sequence: Vec<Value> = events
        .iter()
        .map(|e| e.json()["sequence_number"].clone())
        .collect();
    assert_eq!(
        sequence,
        (0..events.len()).map(Value::from).collect::<Vec<_>>()
    );

    let body = json!({"model": "dall-e-3", "prompt": "a cat", "n": 2});
    let (_, answer) = mock.answer("/v1/images/generations", &[], body).await;
    assert_eq!(answer["data"].as_array().map(Vec::len), Some(2));
    assert_eq!(answer["data"][0]["revised_prompt"], "a cat");

    let (_, answer) = mock
        .answer("/v1/moderations", &[], json!({"input": "hello"}))
        .await;
    assert_eq!(answer["results"][0]["flagged"], false);

    let body = json!({"model": "tts-1", "input": "hi", "voice": "alloy"});
    let sized = [("x-mock-response-bytes", "10000")];
    let response = mock.post("/v1/audio/speech", &sized, body).await;
    assert_eq!(response.headers()["content-type"], "audio/mpeg");
    assert_eq!(response.bytes().await.expect("audio").len(), 10000);

    let models = mock
        .client
        .get(mock.url("/v1/models"))
        .send()
        .await
        .expect("models");
    let models: Value = models.json().await.expect("JSON");
    assert_eq!(models["object"], "list");
    let ids: Vec<&Value> = models["data"]
        .as_array()
        .expect("data")
        .iter()
        .map(|m| &m["id"])
        .collect();
    assert!(ids.contains(&&json!("gpt-4o-mini")));

    assert_eq!(mock.answer("/v1/nothing-here", &[], json!({})).await.0, 404);
    assert_eq!(
        mock.answer(CHAT, &[], json!({"messages": []})).await.0,
        400,
        "no model"
    );
    let not_json = mock
        .client
        .post(mock.url(CHAT))
        .body("{not json")
        .send()
        .await;
    assert_eq!(not_json.expect("mock answers").status(), 400);
    mock.upstream.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn many_concurrent_streams_are_paced_independently() {
    let mock = Mock::start(MockConfig {
        chunks: 5,
        chunk_interval_ms: 20,
        record: false,
        ..MockConfig::default()
    })
    .await;
    let started = Instant::now();
    let streams = (0..200).map(|_| mock.stream(CHAT, &[], chat_body(true)));
    for (events, clean) in futures::future::join_all(streams).await {
        assert!(clean);
        assert_eq!(events.len(), 8);
    }
    // 200 streams of 80 ms each ran side by side, not one after another.
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(mock.upstream.request_count(), 200);
    assert!(mock.upstream.requests().is_empty(), "recording off");
    mock.upstream.shutdown().await;
}

#[tokio::test]
async fn shutdown_frees_the_port() {
    let mock = MockUpstream::start(MockConfig::default())
        .await
        .expect("mock");
    let addr = mock.addr();
    mock.shutdown().await;
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
}
