//! The prompt estimate admission reserves for, before the upstream reports the real count. Text
//! is counted from its bytes (one token per 3 bytes, rather high); what bytes do not show is
//! counted per item: an image by URL is a few bytes but up to a few thousand tokens, and a
//! base64 image or audio clip is many bytes that are not text. Such payloads are taken out of
//! the byte count and each item is counted at an upper bound instead.
//!
//! Cost: bodies without a media marker are counted from their length alone; others are parsed
//! once.

use memchr::memmem;
use serde_json::Value;

/// Upper bounds, in prompt tokens, of one media item of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MediaBounds {
    /// One image (URL or inline). OpenAI's high-detail images stay below ~2 500 tokens on every
    /// current model, Anthropic's below ~1 600, Gemini's 258 per tile.
    pub image: i64,
    /// One audio clip (about 25 minutes at OpenAI's 10 tokens per second).
    pub audio: i64,
    /// One file or document (a PDF of about ten pages at ~2 000 tokens each).
    pub file: i64,
}

impl Default for MediaBounds {
    fn default() -> Self {
        MediaBounds {
            image: 2_500,
            audio: 15_000,
            file: 20_000,
        }
    }
}

/// Strings at least this long that are base64 (or a base64 `data:` URI) are media payloads.
const PAYLOAD_MIN_BYTES: usize = 256;

/// Substrings that may announce media in OpenAI, Anthropic or Gemini request bodies.
const MARKERS: [&str; 7] = [
    "image",
    "audio",
    "\"file",
    "document",
    "inline_data",
    "inlineData",
    ";base64,",
];

/// Prompt tokens of a request body: its text bytes / 3 (rounded up, at least 1) plus each media
/// item at its bound.
pub fn estimate_prompt(body: &[u8], bounds: &MediaBounds) -> i64 {
    let plain = || super::estimate_prompt_tokens(body.len());
    if !MARKERS
        .iter()
        .any(|m| memmem::find(body, m.as_bytes()).is_some())
    {
        return plain();
    }
    let Ok(value) = serde_json::from_slice::<Value>(body) else {
        return plain();
    };
    let mut media = Media::default();
    media.walk(&value);
    let text = super::estimate_prompt_tokens(body.len().saturating_sub(media.payload_bytes));
    let items = [
        (media.images, bounds.image),
        (media.audio, bounds.audio),
        (media.files, bounds.file),
    ];
    items.iter().fold(text, |total, (count, each)| {
        total.saturating_add(count.saturating_mul(*each))
    })
}

#[derive(Debug, Default)]
struct Media {
    images: i64,
    audio: i64,
    files: i64,
    /// Bytes of inline payloads (not text).
    payload_bytes: usize,
}

impl Media {
    fn walk(&mut self, value: &Value) {
        match value {
            Value::Object(map) => {
                if let Some(kind) = map.get("type").and_then(Value::as_str) {
                    self.count_type(kind);
                }
                for key in ["inline_data", "inlineData", "file_data", "fileData"] {
                    if let Some(part) = map.get(key) {
                        self.count_mime(part);
                    }
                }
                map.values().for_each(|v| self.walk(v));
            }
            Value::Array(items) => items.iter().for_each(|v| self.walk(v)),
            Value::String(text) if is_payload(text) => self.payload_bytes += text.len(),
            _ => {}
        }
    }

    /// OpenAI (`image_url`, `input_image`, `input_audio`, `file`, `input_file`) and Anthropic
    /// (`image`, `document`) content part types.
    fn count_type(&mut self, kind: &str) {
        match kind {
            "image_url" | "input_image" | "image" => self.images += 1,
            "input_audio" | "audio" => self.audio += 1,
            "file" | "input_file" | "document" => self.files += 1,
            _ => {}
        }
    }

    /// Gemini parts: the kind is the MIME type's.
    fn count_mime(&mut self, part: &Value) {
        let mime = part
            .get("mime_type")
            .or_else(|| part.get("mimeType"))
            .and_then(Value::as_str)
            .unwrap_or("");
        if mime.starts_with("image/") {
            self.images += 1;
        } else if mime.starts_with("audio/") {
            self.audio += 1;
        } else {
            self.files += 1;
        }
    }
}

/// A long base64 string or base64 `data:` URI.
fn is_payload(text: &str) -> bool {
    if text.len() < PAYLOAD_MIN_BYTES {
        return false;
    }
    let head = &text.as_bytes()[..64];
    if head.starts_with(b"data:") && memmem::find(head, b";base64,").is_some() {
        return true;
    }
    text.bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'=' | b'-' | b'_'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn estimate(body: &Value) -> i64 {
        estimate_prompt(body.to_string().as_bytes(), &MediaBounds::default())
    }

    #[test]
    fn text_is_counted_from_bytes() {
        let body = json!({"model": "m", "messages": [{"role": "user", "content": "hello there"}]});
        let len = body.to_string().len();
        assert_eq!(estimate(&body), i64::try_from(len.div_ceil(3)).unwrap());
    }

    #[test]
    fn an_image_by_url_costs_its_bound() {
        let body = json!({"model": "m", "messages": [{"role": "user", "content": [
            {"type": "text", "text": "what is this?"},
            {"type": "image_url", "image_url": {"url": "https://x.invalid/a.png"}},
        ]}]});
        let text = i64::try_from(body.to_string().len().div_ceil(3)).unwrap();
        assert_eq!(estimate(&body), text + 2_500);
    }

    #[test]
    fn base64_payloads_count_as_items_not_text() {
        let png = "A".repeat(300_000);
        let body = json!({"model": "m", "messages": [{"role": "user", "content": [
            {"type": "image_url", "image_url": {"url": format!("data:image/png;base64,{png}")}},
            {"type": "input_audio", "input_audio": {"data": png, "format": "wav"}},
        ]}]});
        let estimate = estimate(&body);
        assert!(estimate > 2_500 + 15_000, "{estimate}");
        assert!(
            estimate < 2_500 + 15_000 + 200,
            "payload bytes are not text: {estimate}"
        );
    }

    #[test]
    fn anthropic_and_gemini_parts_are_recognised() {
        let anthropic = json!({"model": "m", "messages": [{"role": "user", "content": [
            {"type": "image", "source": {"type": "url", "url": "https://x.invalid/a.png"}},
            {"type": "document", "source": {"type": "url", "url": "https://x.invalid/a.pdf"}},
        ]}]});
        assert!(estimate(&anthropic) >= 2_500 + 20_000);
        let gemini = json!({"contents": [{"parts": [
            {"inline_data": {"mime_type": "image/jpeg", "data": "AAAA"}},
            {"fileData": {"mimeType": "audio/mp3", "fileUri": "gs://b/a.mp3"}},
        ]}]});
        assert!(estimate(&gemini) >= 2_500 + 15_000);
    }
}
