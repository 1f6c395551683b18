//! Upstream request tests: URL layouts and authentication of every channel type, Vertex's
//! JWT assertion and token answer, Bedrock's signed requests and event-stream answers.

use base64::Engine;
use bytes::Bytes;
use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode};
use serde_json::{Value, json};

use super::*;
use crate::llm::format::Family;
use crate::llm::transcode::{ClientStream, Transcoder};

/// A throwaway RSA key pair made at test time (no key is kept in the repository): the
/// private key as PKCS#8 PEM (what a service-account JSON holds), the public one as PKCS#1 PEM.
fn test_keys() -> &'static (String, String) {
    use rand_chacha::ChaCha20Rng;
    use rand_chacha::rand_core::SeedableRng;
    use rsa::pkcs1::EncodeRsaPublicKey;
    use rsa::pkcs8::{EncodePrivateKey, LineEnding};
    static KEYS: std::sync::OnceLock<(String, String)> = std::sync::OnceLock::new();
    KEYS.get_or_init(|| {
        let mut rng = ChaCha20Rng::seed_from_u64(41);
        let private = rsa::RsaPrivateKey::new(&mut rng, 2048).expect("an RSA key");
        let private_pem = private
            .to_pkcs8_pem(LineEnding::LF)
            .expect("PKCS#8")
            .to_string();
        let public_pem = private
            .to_public_key()
            .to_pkcs1_pem(LineEnding::LF)
            .expect("PKCS#1");
        (private_pem, public_pem)
    })
}

fn channel(kind: ChannelType, base_url: &str, key: &str, other: &str) -> Channel {
    Channel {
        kind,
        base_url: base_url.into(),
        key: key.into(),
        other: other.into(),
    }
}

fn outgoing<'a>(
    format: ApiFormat,
    op: Op,
    model: &'a str,
    stream: bool,
    body: &str,
) -> Outgoing<'a> {
    Outgoing {
        format,
        op,
        model,
        stream,
        body: body.as_bytes().to_vec(),
        relay_path: "",
        passed_headers: Vec::new(),
        access_token: None,
        amz_date: "20250102T030405Z",
    }
}

fn body_json(request: &UpstreamRequest) -> Value {
    serde_json::from_slice(&request.body).unwrap()
}

#[test]
fn channel_numbers_and_formats() {
    for number in [1, 3, 14, 24, 33, 41] {
        assert_eq!(ChannelType::from_number(number).unwrap().number(), number);
    }
    assert_eq!(ChannelType::from_number(2), None);
    assert_eq!(
        ChannelType::OpenAi.upstream_format(ApiFormat::Anthropic, "gpt-4o"),
        ApiFormat::OpenAiChat
    );
    assert_eq!(
        ChannelType::OpenAi.upstream_format(ApiFormat::OpenAiResponses, "gpt-5"),
        ApiFormat::OpenAiResponses
    );
    let chat_only = ChannelCaps {
        kind: ChannelType::OpenAi,
        responses_api: false,
    };
    assert_eq!(
        chat_only.upstream_format(ApiFormat::OpenAiResponses, "gpt-5"),
        ApiFormat::OpenAiChat
    );
    assert_eq!(
        chat_only.upstream_format(ApiFormat::OpenAiEmbeddings, "e"),
        ApiFormat::OpenAiEmbeddings
    );
    assert_eq!(
        ChannelCaps::from(ChannelType::Azure).upstream_format(ApiFormat::OpenAiResponses, "gpt-5"),
        ApiFormat::OpenAiResponses
    );
    assert_eq!(
        ChannelType::Bedrock.upstream_format(ApiFormat::OpenAiChat, "x"),
        ApiFormat::Anthropic
    );
    assert_eq!(
        ChannelType::VertexAi.upstream_format(ApiFormat::OpenAiChat, "claude-sonnet-4-5@20250929"),
        ApiFormat::Anthropic
    );
    assert_eq!(
        ChannelType::VertexAi.upstream_format(ApiFormat::Anthropic, "gemini-2.5-pro"),
        ApiFormat::Gemini
    );
}

#[test]
fn openai_and_compatible_urls() {
    let default = channel(ChannelType::OpenAi, "", "sk-up", "");
    let request = build(
        &default,
        outgoing(ApiFormat::OpenAiChat, Op::Generate, "gpt-4o", true, "{}"),
    )
    .unwrap();
    assert_eq!(request.url(), "https://api.openai.com/v1/chat/completions");
    assert_eq!(request.header("authorization"), Some("Bearer sk-up"));
    let compatible = channel(ChannelType::OpenAi, "https://api.deepseek.com/", "k", "");
    let request = build(
        &compatible,
        outgoing(ApiFormat::OpenAiEmbeddings, Op::Embed, "m", false, "{}"),
    )
    .unwrap();
    assert_eq!(request.url(), "https://api.deepseek.com/v1/embeddings");
    let versioned = channel(
        ChannelType::OpenAi,
        "https://open.bigmodel.cn/api/paas/v4",
        "k",
        "",
    );
    let request = build(
        &versioned,
        outgoing(ApiFormat::OpenAiChat, Op::Generate, "glm-4", false, "{}"),
    )
    .unwrap();
    assert_eq!(
        request.url(),
        "https://open.bigmodel.cn/api/paas/v4/chat/completions"
    );
    let mut relay = outgoing(ApiFormat::OpenAiImages, Op::Relay, "dall-e-3", false, "{}");
    relay.relay_path = "/v1/images/generations";
    assert_eq!(
        build(&default, relay).unwrap().url(),
        "https://api.openai.com/v1/images/generations"
    );
    assert_eq!(
        model_list_request(&default, "").unwrap().unwrap().url(),
        "https://api.openai.com/v1/models"
    );
}

#[test]
fn azure_deployments() {
    let azure = channel(
        ChannelType::Azure,
        "https://my-res.openai.azure.com/",
        "az-key",
        "2025-01-01-preview",
    );
    let request = build(
        &azure,
        outgoing(
            ApiFormat::OpenAiChat,
            Op::Generate,
            "gpt-3.5-turbo",
            false,
            "{}",
        ),
    )
    .unwrap();
    assert_eq!(
        request.url(),
        "https://my-res.openai.azure.com/openai/deployments/gpt-35-turbo/chat/completions?api-version=2025-01-01-preview"
    );
    assert_eq!(request.header("api-key"), Some("az-key"));
    assert_eq!(request.header("authorization"), None);
    let default_version = channel(ChannelType::Azure, "https://r.openai.azure.com", "k", "");
    let request = build(
        &default_version,
        outgoing(
            ApiFormat::OpenAiEmbeddings,
            Op::Embed,
            "text-embedding-3-small",
            false,
            "{}",
        ),
    )
    .unwrap();
    assert!(
        request
            .path_and_query
            .ends_with("/embeddings?api-version=2024-10-21")
    );
    assert!(
        build(
            &channel(ChannelType::Azure, "", "k", ""),
            outgoing(ApiFormat::OpenAiChat, Op::Generate, "m", false, "{}")
        )
        .is_err()
    );
}

#[test]
fn anthropic_headers_passed_on() {
    let anthropic = channel(ChannelType::Anthropic, "", "sk-ant-up", "");
    let mut out = outgoing(
        ApiFormat::Anthropic,
        Op::Generate,
        "claude-sonnet-4-5",
        true,
        "{}",
    );
    out.passed_headers = vec![
        ("anthropic-version".into(), "2023-01-01".into()),
        ("anthropic-beta".into(), "prompt-caching-2024-07-31".into()),
    ];
    let request = build(&anthropic, out).unwrap();
    assert_eq!(request.url(), "https://api.anthropic.com/v1/messages");
    assert_eq!(request.header("x-api-key"), Some("sk-ant-up"));
    assert_eq!(request.header("anthropic-version"), Some("2023-01-01"));
    assert_eq!(
        request.header("anthropic-beta"),
        Some("prompt-caching-2024-07-31")
    );
    let request = build(
        &anthropic,
        outgoing(ApiFormat::Anthropic, Op::CountTokens, "c", false, "{}"),
    )
    .unwrap();
    assert_eq!(request.path_and_query, "/v1/messages/count_tokens");
    assert_eq!(request.header("anthropic-version"), Some("2023-06-01"));
    assert!(
        build(
            &anthropic,
            outgoing(ApiFormat::Anthropic, Op::Embed, "c", false, "{}")
        )
        .is_err()
    );
}

#[test]
fn gemini_actions() {
    let gemini = channel(ChannelType::Gemini, "", "AIza-up", "");
    let request = build(
        &gemini,
        outgoing(
            ApiFormat::Gemini,
            Op::Generate,
            "gemini-2.5-flash",
            true,
            "{}",
        ),
    )
    .unwrap();
    assert_eq!(
        request.url(),
        "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse"
    );
    assert_eq!(request.header("x-goog-api-key"), Some("AIza-up"));
    let request = build(
        &gemini,
        outgoing(
            ApiFormat::Gemini,
            Op::Generate,
            "models/gemini-2.5-pro",
            false,
            "{}",
        ),
    )
    .unwrap();
    assert!(
        request
            .path_and_query
            .ends_with("/models/gemini-2.5-pro:generateContent")
    );
    let request = build(
        &gemini,
        outgoing(
            ApiFormat::Gemini,
            Op::BatchEmbed,
            "text-embedding-004",
            false,
            "{}",
        ),
    )
    .unwrap();
    assert!(request.path_and_query.ends_with(":batchEmbedContents"));
    let list = model_list_request(&gemini, "").unwrap().unwrap();
    assert_eq!(
        list.url(),
        "https://generativelanguage.googleapis.com/v1beta/models?pageSize=1000"
    );
    assert_eq!(
        parse_model_list(
            ChannelType::Gemini,
            br#"{"models":[{"name":"models/gemini-2.5-flash"},{"name":"models/embedding-001"}]}"#
        ),
        vec!["gemini-2.5-flash", "embedding-001"]
    );
}

fn service_account() -> String {
    json!({
        "type": "service_account",
        "project_id": "my-project-123",
        "private_key_id": "abc123",
        "private_key": test_keys().0,
        "client_email": "relay@my-project-123.iam.gserviceaccount.com",
        "client_id": "1",
        "token_uri": "https://oauth2.googleapis.com/token",
    })
    .to_string()
}

#[test]
fn vertex_assertion_and_token_exchange() {
    let account = vertex::parse_service_account(&service_account()).unwrap();
    let request = vertex::token_request(&account, 1_700_000_000).unwrap();
    assert_eq!(request.url(), "https://oauth2.googleapis.com/token");
    assert_eq!(
        request.header("content-type"),
        Some("application/x-www-form-urlencoded")
    );
    let body = String::from_utf8(request.body).unwrap();
    let assertion = body
        .strip_prefix("grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion=")
        .unwrap();

    let header = jsonwebtoken::decode_header(assertion).unwrap();
    assert_eq!(header.alg, Algorithm::RS256);
    assert_eq!(header.kid.as_deref(), Some("abc123"));
    let mut validation = Validation::new(Algorithm::RS256);
    validation.set_audience(&["https://oauth2.googleapis.com/token"]);
    validation.validate_exp = false;
    let claims = decode::<Value>(
        assertion,
        &DecodingKey::from_rsa_der(&vertex::rsa_der(&test_keys().1).unwrap()),
        &validation,
    )
    .unwrap()
    .claims;
    assert_eq!(
        claims["iss"],
        "relay@my-project-123.iam.gserviceaccount.com"
    );
    assert_eq!(
        claims["scope"],
        "https://www.googleapis.com/auth/cloud-platform"
    );
    assert_eq!(
        (claims["iat"].as_u64(), claims["exp"].as_u64()),
        (Some(1_700_000_000), Some(1_700_003_600))
    );

    let token = vertex::parse_token_answer(
        br#"{"access_token":"ya29.c.b0Aaek","expires_in":3599,"token_type":"Bearer"}"#,
    )
    .unwrap();
    assert_eq!(
        (token.token.as_str(), token.expires_in),
        ("ya29.c.b0Aaek", 3599)
    );
    let error = vertex::parse_token_answer(
        br#"{"error":"invalid_grant","error_description":"Invalid JWT Signature."}"#,
    )
    .unwrap_err();
    assert_eq!(error.kind, ErrorKind::Authentication);
    assert!(error.message.contains("Invalid JWT Signature."));
    assert!(vertex::parse_service_account("AIza-not-json").is_err());
    let broken = vertex::ServiceAccount {
        private_key: "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n".into(),
        ..account
    };
    assert!(vertex::assertion(&broken, 0).is_err());
}

#[test]
fn vertex_urls_for_gemini_and_claude() {
    let vertex = channel(ChannelType::VertexAi, "", &service_account(), "us-east5");
    let mut out = outgoing(
        ApiFormat::Gemini,
        Op::Generate,
        "gemini-2.5-pro",
        true,
        "{\"contents\":[]}",
    );
    out.access_token = Some("ya29.token");
    let request = build(&vertex, out).unwrap();
    assert_eq!(
        request.url(),
        "https://us-east5-aiplatform.googleapis.com/v1/projects/my-project-123/locations/us-east5/publishers/google/models/gemini-2.5-pro:streamGenerateContent?alt=sse"
    );
    assert_eq!(request.header("authorization"), Some("Bearer ya29.token"));

    let regional = channel(
        ChannelType::VertexAi,
        "",
        &service_account(),
        r#"{"default":"global","claude-sonnet-4-5@20250929":"europe-west1"}"#,
    );
    let mut out = outgoing(
        ApiFormat::Anthropic,
        Op::Generate,
        "claude-sonnet-4-5@20250929",
        false,
        r#"{"model":"claude-sonnet-4-5@20250929","max_tokens":10,"messages":[]}"#,
    );
    out.access_token = Some("ya29.token");
    let request = build(&regional, out).unwrap();
    assert_eq!(
        request.url(),
        "https://europe-west1-aiplatform.googleapis.com/v1/projects/my-project-123/locations/europe-west1/publishers/anthropic/models/claude-sonnet-4-5%4020250929:rawPredict"
    );
    let body = body_json(&request);
    assert_eq!(body.get("model"), None);
    assert_eq!(body["anthropic_version"], "vertex-2023-10-16");
    let mut out = outgoing(
        ApiFormat::Gemini,
        Op::Generate,
        "gemini-2.5-flash",
        false,
        "{}",
    );
    out.access_token = Some("t");
    assert!(
        build(&regional, out)
            .unwrap()
            .origin
            .ends_with("://aiplatform.googleapis.com")
    );
    // No token yet: the relay must fetch one first.
    assert!(
        build(
            &vertex,
            outgoing(
                ApiFormat::Gemini,
                Op::Generate,
                "gemini-2.5-pro",
                false,
                "{}"
            )
        )
        .is_err()
    );
    assert_eq!(model_list_request(&vertex, "").unwrap(), None);
}

#[test]
fn bedrock_signed_invoke() {
    let bedrock = channel(
        ChannelType::Bedrock,
        "",
        "AKIDEXAMPLE|wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY|us-west-2",
        "",
    );
    let body = r#"{"model":"x","max_tokens":100,"stream":true,"messages":[{"role":"user","content":"hi"}]}"#;
    let request = build(
        &bedrock,
        outgoing(
            ApiFormat::Anthropic,
            Op::Generate,
            "anthropic.claude-3-5-sonnet-20240620-v1:0",
            true,
            body,
        ),
    )
    .unwrap();
    assert_eq!(
        request.url(),
        "https://bedrock-runtime.us-west-2.amazonaws.com/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/invoke-with-response-stream"
    );
    let sent = body_json(&request);
    assert_eq!((sent.get("model"), sent.get("stream")), (None, None));
    assert_eq!(sent["anthropic_version"], "bedrock-2023-05-31");
    assert_eq!(request.header("x-amz-date"), Some("20250102T030405Z"));
    assert_eq!(
        request.header("host"),
        Some("bedrock-runtime.us-west-2.amazonaws.com")
    );
    let auth = request.header("authorization").unwrap();
    assert!(auth.starts_with("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20250102/us-west-2/bedrock/aws4_request, SignedHeaders=accept;content-type;host;x-amz-date, Signature="));
    // The signature covers the body: another body, another signature.
    let other = build(
        &bedrock,
        outgoing(
            ApiFormat::Anthropic,
            Op::Generate,
            "anthropic.claude-3-5-sonnet-20240620-v1:0",
            true,
            "{\"max_tokens\":1}",
        ),
    )
    .unwrap();
    assert_ne!(other.header("authorization"), Some(auth));

    let session = channel(ChannelType::Bedrock, "", "AK|SK||token123", "eu-central-1");
    let request = build(
        &session,
        outgoing(ApiFormat::Anthropic, Op::Generate, "m", false, "{}"),
    )
    .unwrap();
    assert_eq!(
        request.origin,
        "https://bedrock-runtime.eu-central-1.amazonaws.com"
    );
    assert_eq!(request.header("x-amz-security-token"), Some("token123"));
    assert!(
        request
            .header("authorization")
            .unwrap()
            .contains("x-amz-date;x-amz-security-token")
    );

    let api_key = channel(ChannelType::Bedrock, "", "ABSKQmVkcm9ja0FQSUtleS", "");
    let request = build(
        &api_key,
        outgoing(ApiFormat::Anthropic, Op::Generate, "m", false, "{}"),
    )
    .unwrap();
    assert_eq!(
        request.header("authorization"),
        Some("Bearer ABSKQmVkcm9ja0FQSUtleS")
    );
    let list = model_list_request(&bedrock, "20250102T030405Z")
        .unwrap()
        .unwrap();
    assert_eq!(
        list.url(),
        "https://bedrock.us-west-2.amazonaws.com/foundation-models?byProvider=anthropic"
    );
    assert_eq!(
        parse_model_list(
            ChannelType::Bedrock,
            br#"{"modelSummaries":[{"modelId":"anthropic.claude-3-haiku-20240307-v1:0"}]}"#
        ),
        vec!["anthropic.claude-3-haiku-20240307-v1:0"]
    );
}

fn chunk_message(event: &Value) -> Vec<u8> {
    let bytes = base64::engine::general_purpose::STANDARD.encode(event.to_string());
    eventstream::encode(
        &[
            (":event-type", "chunk"),
            (":content-type", "application/json"),
            (":message-type", "event"),
        ],
        json!({"bytes": bytes, "p": "abcdefghij"})
            .to_string()
            .as_bytes(),
    )
}

#[test]
fn bedrock_stream_feeds_the_transcoder() {
    let events = [
        json!({"type":"message_start","message":{"id":"msg_bdrk_01","type":"message","role":"assistant","model":"claude-3-5-sonnet-20240620","content":[],"usage":{"input_tokens":14,"output_tokens":1}}}),
        json!({"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}),
        json!({"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hallo Welt – ünïcödé"}}),
        json!({"type":"content_block_stop","index":0}),
        json!({"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":9}}),
        json!({"type":"message_stop","amazon-bedrock-invocationMetrics":{"inputTokenCount":14,"outputTokenCount":9}}),
    ];
    let stream: Vec<u8> = events.iter().flat_map(chunk_message).collect();
    for piece in [1, 5, 64, stream.len()] {
        let mut adapter = bedrock::StreamAdapter::new();
        let mut transcoder = Transcoder::new(
            ApiFormat::Anthropic,
            ClientStream {
                format: ApiFormat::OpenAiChat,
                sse: true,
                include_usage: true,
                model: "claude".into(),
            },
        )
        .unwrap();
        let mut out = Vec::new();
        for chunk in stream.chunks(piece) {
            let sse = adapter.feed(chunk).unwrap();
            out.extend_from_slice(&transcoder.feed(sse));
        }
        out.extend_from_slice(&transcoder.finish());
        let text = String::from_utf8(out).unwrap();
        assert!(
            text.contains("\"content\":\"Hallo Welt – ünïcödé\""),
            "{text}"
        );
        assert!(text.ends_with("data: [DONE]\n\n"));
        let usage = transcoder.usage().unwrap();
        assert_eq!((usage.input_tokens, usage.output_tokens), (14, 9));
        assert!(transcoder.saw_terminal_event());
    }
}

#[test]
fn bedrock_exceptions_become_anthropic_errors() {
    let exception = eventstream::encode(
        &[
            (":message-type", "exception"),
            (":exception-type", "throttlingException"),
            (":content-type", "application/json"),
        ],
        br#"{"message":"Too many requests, please wait before trying again."}"#,
    );
    let sse = bedrock::StreamAdapter::new().feed(&exception).unwrap();
    let text = String::from_utf8(sse.to_vec()).unwrap();
    assert!(text.starts_with("event: error\ndata: "));
    let data: Value =
        serde_json::from_str(text.trim_start_matches("event: error\ndata: ").trim()).unwrap();
    assert_eq!(data["error"]["type"], "rate_limit_error");
    let mut transcoder = Transcoder::new(
        ApiFormat::Anthropic,
        ClientStream {
            format: ApiFormat::Gemini,
            sse: true,
            include_usage: false,
            model: String::new(),
        },
    )
    .unwrap();
    let out = [transcoder.feed(sse), transcoder.finish()].concat();
    assert!(
        String::from_utf8(out)
            .unwrap()
            .contains("\"finishReason\":\"OTHER\"")
    );
    let mut corrupt = exception.clone();
    let last = corrupt.len() - 1;
    corrupt[last] ^= 0xFF;
    assert!(bedrock::StreamAdapter::new().feed(&corrupt).is_err());
    let _ = Bytes::new();
}

#[test]
fn upstream_error_bodies_of_each_type() {
    // What each channel type answers on a bad key, read back for the channel test.
    let cases: [(u16, &[u8], ErrorKind); 4] = [
        (401, br#"{"error":{"message":"Incorrect API key provided","type":"invalid_request_error","code":"invalid_api_key"}}"#, ErrorKind::InvalidRequest),
        (401, br#"{"type":"error","error":{"type":"authentication_error","message":"invalid x-api-key"}}"#, ErrorKind::Authentication),
        (400, br#"{"error":{"code":400,"message":"API key not valid. Please pass a valid API key.","status":"INVALID_ARGUMENT"}}"#, ErrorKind::InvalidRequest),
        (403, br#"{"message":"The security token included in the request is invalid."}"#, ErrorKind::PermissionDenied),
    ];
    for (status, body, kind) in cases {
        let error = crate::llm::errors::parse_upstream_error(status, body);
        assert_eq!(error.kind, kind);
        assert_eq!(error.render(Family::Gemini).0, status);
    }
}
