//! `POST /v1/audio/speech` (binary audio of about `response_bytes`) and
//! `POST /v1/audio/transcriptions` (multipart upload; `{"text": ...}` with usage).

use crate::mock::errors::{self, Dialect};
use crate::mock::handler::{Ctx, HandlerResult, Reply, json};
use crate::mock::http::Response;
use crate::mock::multipart;
use serde_json::{Value, json};

/// Size of the synthesized audio when `response_bytes` is not set.
const DEFAULT_AUDIO_BYTES: usize = 4096;

/// Synthesizes speech: an ID3 header followed by silence, in the asked `response_format`.
pub(crate) fn speech(ctx: &Ctx) -> HandlerResult {
    ctx.model(Dialect::OpenAi)?;
    let body = ctx.body(Dialect::OpenAi)?;
    let content_type = match body.get("response_format").and_then(Value::as_str) {
        None | Some("mp3") => "audio/mpeg",
        Some("opus") => "audio/opus",
        Some("aac") => "audio/aac",
        Some("flac") => "audio/flac",
        Some("wav") => "audio/wav",
        Some("pcm") => "audio/pcm",
        Some(other) => {
            let message = format!("Invalid response_format '{other}'.");
            return Err(errors::error(Dialect::OpenAi, 400, &message, None));
        }
    };
    let size = match ctx.knobs.response_bytes {
        0 => DEFAULT_AUDIO_BYTES,
        n => n,
    };
    let mut audio = b"ID3\x04\x00\x00\x00\x00\x00\x00".to_vec();
    audio.resize(size.max(audio.len()), 0);
    Ok(Reply::Full(Response {
        status: 200,
        content_type,
        headers: Vec::new(),
        body: audio,
    }))
}

/// Transcribes an upload. `whisper-1` reports usage as duration (seconds = prompt tokens),
/// newer models as tokens.
pub(crate) fn transcribe(ctx: &Ctx) -> HandlerResult {
    let fields = ctx
        .req
        .header("content-type")
        .and_then(|ct| multipart::parse(ct, &ctx.req.body))
        .ok_or_else(|| {
            let message = "Expected a multipart/form-data body.";
            errors::error(Dialect::OpenAi, 400, message, None)
        })?;
    let value = |name: &str| {
        fields
            .iter()
            .find(|f| f.name == name)
            .and_then(|f| f.value.clone())
    };
    if !fields.iter().any(|f| f.name == "file") {
        let message = "Missing required parameter: 'file'.";
        return Err(errors::error(Dialect::OpenAi, 400, message, None));
    }
    let Some(model) = value("model") else {
        let message = "you must provide a model parameter";
        return Err(errors::error(Dialect::OpenAi, 400, message, None));
    };
    let text = ctx.answer();
    if matches!(
        value("response_format").as_deref(),
        Some("text" | "srt" | "vtt")
    ) {
        return Ok(Reply::Full(Response {
            status: 200,
            content_type: "text/plain; charset=utf-8",
            headers: Vec::new(),
            body: text.into_bytes(),
        }));
    }
    let usage = &ctx.knobs.usage;
    let usage = if model == "whisper-1" {
        json!({"type": "duration", "seconds": usage.prompt})
    } else {
        json!({
            "type": "tokens",
            "input_tokens": usage.prompt,
            "input_token_details": {"text_tokens": 0, "audio_tokens": usage.prompt},
            "output_tokens": usage.completion,
            "total_tokens": usage.total(),
        })
    };
    json(&json!({"text": text, "usage": usage}))
}
