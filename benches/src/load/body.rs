//! The request body every load request sends: an OpenAI chat completion (or, with `--format
//! anthropic`, an Anthropic message) with one user message, padded so the whole body is about
//! `--body-bytes` long. Built once; each request shares it.

use bytes::Bytes;
use serde_json::json;

/// Text the user message is padded with (plain ASCII, so JSON needs no escapes).
const FILLER: &str = "The quick brown fox jumps over the lazy dog. ";

/// Which API the load speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BodyFormat {
    /// OpenAI chat completions (`POST /v1/chat/completions`).
    #[default]
    Chat,
    /// Anthropic messages (`POST /v1/messages`), `max_tokens` 256.
    Anthropic,
}

impl BodyFormat {
    /// `chat` or `anthropic`, as the command line names it.
    pub fn name(self) -> &'static str {
        match self {
            BodyFormat::Chat => "chat",
            BodyFormat::Anthropic => "anthropic",
        }
    }
}

/// The body of `format` for `model`, of `body_bytes` bytes when that is more than the
/// smallest such body (which is then sent as is).
pub fn request_body(
    format: BodyFormat,
    model: &str,
    stream: bool,
    body_bytes: usize,
) -> anyhow::Result<Bytes> {
    match format {
        BodyFormat::Chat => chat_body(model, stream, body_bytes),
        BodyFormat::Anthropic => padded(body_bytes, |content| {
            serde_json::to_vec(&json!({
                "model": model,
                "max_tokens": 256,
                "stream": stream,
                "messages": [{"role": "user", "content": content}],
            }))
        }),
    }
}

/// The chat-completions body for `model`, of `body_bytes` bytes when that is more than the
/// smallest such body (which is then sent as is).
pub fn chat_body(model: &str, stream: bool, body_bytes: usize) -> anyhow::Result<Bytes> {
    padded(body_bytes, |content| {
        serde_json::to_vec(&json!({
            "model": model,
            "stream": stream,
            "messages": [{"role": "user", "content": content}],
        }))
    })
}

/// `render(content)` with the content padded so the whole is `body_bytes` long.
fn padded(
    body_bytes: usize,
    render: impl Fn(&str) -> serde_json::Result<Vec<u8>>,
) -> anyhow::Result<Bytes> {
    let bare = render("")?;
    let pad = body_bytes.saturating_sub(bare.len());
    if pad == 0 {
        return Ok(Bytes::from(bare));
    }
    let content: String = FILLER.chars().cycle().take(pad).collect();
    Ok(Bytes::from(render(&content)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pads_to_the_requested_size() {
        for size in [200, 1000, 64 * 1024] {
            let body = chat_body("gpt-4o-mini", true, size).unwrap();
            assert_eq!(body.len(), size);
            let value: serde_json::Value = serde_json::from_slice(&body).unwrap();
            assert_eq!(value["model"], "gpt-4o-mini");
            assert_eq!(value["stream"], true);
            assert_eq!(value["messages"][0]["role"], "user");
        }
    }

    #[test]
    fn anthropic_bodies_are_messages() {
        let body = request_body(BodyFormat::Anthropic, "claude", true, 500).unwrap();
        assert_eq!(body.len(), 500);
        let value: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(value["max_tokens"], 256);
        assert_eq!(value["messages"][0]["role"], "user");
    }

    #[test]
    fn small_sizes_give_the_smallest_body() {
        let body = chat_body("m", false, 0).unwrap();
        let value: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(value["stream"], false);
        assert_eq!(value["messages"][0]["content"], "");
    }
}
