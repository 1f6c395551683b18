//! The relay's request parser on every ingress and endpoint: arbitrary bodies are refused or
//! read, never a panic; a well-formed request is read exactly (model, stream flag, the lowest
//! completion limit) whatever else it carries; the body sent upstream names the upstream's
//! model and keeps the rest; a multipart form's model is found wherever its part is.

use crate::strategies::{body, config, json};
use bytes::Bytes;
use proptest::prelude::*;
use pylon_proxy::relay::request::{Endpoint, RelayRequest};
use pylon_shared::llm::{Ingress, recognise};
use serde_json::{Map, Value};

/// Every relay POST: its path, whether the client speaks Anthropic, and its endpoint.
const ROUTES: &[(&str, bool, Endpoint)] = &[
    ("/v1/chat/completions", false, Endpoint::ChatCompletions),
    ("/v1/completions", false, Endpoint::Completions),
    ("/v1/embeddings", false, Endpoint::Embeddings),
    ("/v1/responses", false, Endpoint::Responses),
    ("/v1/images/generations", false, Endpoint::ImagesGenerations),
    ("/v1/moderations", false, Endpoint::Moderations),
    ("/v1/audio/speech", false, Endpoint::AudioSpeech),
    (
        "/v1/audio/transcriptions",
        false,
        Endpoint::AudioTranscriptions,
    ),
    ("/v1/audio/translations", false, Endpoint::AudioTranslations),
    ("/v1/messages", true, Endpoint::Messages),
    ("/v1/messages/count_tokens", true, Endpoint::CountTokens),
    (
        "/v1beta/models/gem-1:generateContent",
        false,
        Endpoint::Gemini,
    ),
    (
        "/v1beta/models/gem-1:streamGenerateContent?alt=sse",
        false,
        Endpoint::Gemini,
    ),
    (
        "/v1beta/models/gem-1:streamGenerateContent",
        false,
        Endpoint::Gemini,
    ),
    ("/v1beta/models/gem-1:countTokens", false, Endpoint::Gemini),
    ("/v1/models/gem-1:embedContent", false, Endpoint::Gemini),
];

fn route() -> impl Strategy<Value = (Ingress, Endpoint)> {
    proptest::sample::select(ROUTES).prop_map(|(path, anthropic, endpoint)| {
        let header =
            |name: &str| (anthropic && name == "anthropic-version").then_some("2023-06-01");
        let ingress = recognise("POST", path, header).expect("a relay route");
        assert_eq!(
            Endpoint::of(&ingress, path.split('?').next().unwrap_or(path)),
            Some(endpoint)
        );
        (ingress, endpoint)
    })
}

/// A model name: printable, not blank.
fn model() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9._:/ -]{0,3}[a-zA-Z0-9][a-zA-Z0-9._:/ -]{0,20}"
}

fn limit() -> impl Strategy<Value = Option<i64>> {
    proptest::option::of(prop_oneof![any::<i64>(), -2i64..5_000])
}

/// A well-formed request with the fields the parser reads, and arbitrary others.
#[derive(Debug, Clone)]
struct Wellformed {
    model: String,
    stream: Option<bool>,
    include_usage: Option<bool>,
    limits: [Option<i64>; 4],
    extra: Map<String, Value>,
}

impl Wellformed {
    fn body(&self) -> Value {
        let mut body = self.extra.clone();
        body.insert("model".into(), self.model.clone().into());
        if let Some(stream) = self.stream {
            body.insert("stream".into(), stream.into());
        }
        if let Some(include) = self.include_usage {
            body.insert(
                "stream_options".into(),
                serde_json::json!({ "include_usage": include }),
            );
        }
        let [max_tokens, completion, output, gemini] = self.limits;
        for (key, value) in [
            ("max_tokens", max_tokens),
            ("max_completion_tokens", completion),
            ("max_output_tokens", output),
        ] {
            if let Some(value) = value {
                body.insert(key.into(), value.into());
            }
        }
        if let Some(gemini) = gemini {
            body.insert(
                "generationConfig".into(),
                serde_json::json!({ "maxOutputTokens": gemini }),
            );
        }
        Value::Object(body)
    }
}

fn wellformed() -> impl Strategy<Value = Wellformed> {
    (
        model(),
        proptest::option::of(any::<bool>()),
        proptest::option::of(any::<bool>()),
        [limit(), limit(), limit(), limit()],
        proptest::collection::vec(("x_[a-z]{0,5}", json()), 0..4),
    )
        .prop_map(|(model, stream, include_usage, limits, extra)| Wellformed {
            model,
            stream,
            include_usage,
            limits,
            extra: extra.into_iter().collect(),
        })
}

fn parse(
    ingress: Ingress,
    endpoint: Endpoint,
    body: Vec<u8>,
    content_type: Option<String>,
) -> Result<RelayRequest, String> {
    RelayRequest::parse(ingress, endpoint, Bytes::from(body), content_type)
        .map_err(|error| format!("{error:?}"))
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn arbitrary_bodies_are_read_or_refused(
        (ingress, endpoint) in route(),
        body in body(),
        content_type in proptest::option::of(prop_oneof![
            Just("multipart/form-data; boundary=XyZ".to_owned()),
            "multipart/form-data; boundary=\"?[ -~]{0,8}\"?",
            "[ -~]{0,24}",
        ]),
    ) {
        if let Ok(request) = parse(ingress, endpoint, body.clone(), content_type) {
            prop_assert!(!request.model.trim().is_empty(), "{:?}", request);
            prop_assert!(request.max_tokens.is_none_or(|m| m > 0), "{:?}", request);
            prop_assert_eq!(&request.body[..], &body[..]);
            // Whatever was accepted can be rewritten for an upstream without a panic.
            let _ = request.upstream_body("upstream-model", Some(7));
            let _ = request.limited_body(Some(7));
        }
    }

    #[test]
    fn wellformed_requests_are_read_exactly(
        (ingress, endpoint) in route().prop_filter("JSON endpoints", |(_, e)| !e.is_multipart()),
        request in wellformed(),
    ) {
        let body = request.body().to_string().into_bytes();
        let from_path = ingress.model_from_path.clone();
        let stream_from_path = ingress.stream_from_path;
        let parsed = parse(ingress, endpoint, body, None).map_err(TestCaseError::fail)?;
        let model = from_path.unwrap_or_else(|| request.model.clone());
        prop_assert_eq!(&parsed.model, &model);
        prop_assert_eq!(parsed.stream, stream_from_path || request.stream == Some(true));
        prop_assert_eq!(parsed.client_wants_usage, request.include_usage == Some(true));
        let lowest = request.limits.iter().flatten().copied().filter(|m| *m > 0).min();
        prop_assert_eq!(parsed.max_tokens, lowest);

        // Upstream: the mapped model (not for Gemini, whose model is in the path), the
        // same stream flag and extra fields; the usage chunk asked for when the relay injects it.
        let upstream: Value = serde_json::from_slice(
            &parsed.upstream_body("mapped-model", None).map_err(|e| TestCaseError::fail(format!("{e:?}")))?,
        ).map_err(|e| TestCaseError::fail(e.to_string()))?;
        if parsed.model != "mapped-model" && endpoint != Endpoint::Gemini {
            prop_assert_eq!(&upstream["model"], "mapped-model");
        }
        prop_assert_eq!(upstream.get("stream").cloned(), request.stream.map(Value::Bool));
        for (key, value) in &request.extra {
            prop_assert_eq!(upstream.get(key), Some(value));
        }
        if parsed.injects_usage() {
            prop_assert_eq!(&upstream["stream_options"]["include_usage"], true);
        }
    }

    #[test]
    fn multipart_forms_name_their_model(
        boundary in "[a-zA-Z0-9'()+_,-./:=?]{1,40}",
        model in "[a-zA-Z0-9._-]{1,24}",
        file in proptest::collection::vec(any::<u8>(), 0..64),
        model_first in any::<bool>(),
        translate in any::<bool>(),
    ) {
        let (path, endpoint) = if translate {
            ("/v1/audio/translations", Endpoint::AudioTranslations)
        } else {
            ("/v1/audio/transcriptions", Endpoint::AudioTranscriptions)
        };
        let ingress = recognise("POST", path, |_| None).expect("a relay route");
        let model_part = format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"model\"\r\n\r\n{model}\r\n"
        ).into_bytes();
        let mut file_part = format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.wav\"\r\n\r\n"
        ).into_bytes();
        file_part.extend_from_slice(&file);
        file_part.extend_from_slice(b"\r\n");
        // A well-formed form's content never holds its delimiter.
        let delimiter = format!("--{boundary}");
        prop_assume!(!file.windows(delimiter.len()).any(|w| w == delimiter.as_bytes()));
        prop_assume!(!model.contains(&delimiter));
        let mut body = if model_first { [model_part, file_part].concat() } else { [file_part, model_part].concat() };
        body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
        let parsed = parse(
            ingress,
            endpoint,
            body,
            Some(format!("multipart/form-data; boundary={boundary}")),
        ).map_err(TestCaseError::fail)?;
        prop_assert_eq!(parsed.model, model);
        prop_assert!(!parsed.stream);
    }
}
