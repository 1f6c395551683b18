//! Token usage wide enough for every provider: cache reads and cache writes (Anthropic's
//! `cache_creation_input_tokens`) and reasoning tokens, read from and written in each format.
//! [`Usage::billing`] narrows it to the [`crate::pricing::Usage`] that billing prices. OpenAI
//! shapes carry cache writes as `cached_creation_tokens` in the prompt details, as new-api
//! writes them.

use serde_json::{Value, json};

/// Token counts of one answer. `input_tokens` counts every prompt token, cached or not
/// (OpenAI's convention); `output_tokens` counts every generated token, reasoning included.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    /// All prompt tokens: fresh, read from the cache, and written to it.
    pub input_tokens: i64,
    /// The part of `input_tokens` read from the provider's prompt cache.
    pub cache_read_tokens: i64,
    /// The part of `input_tokens` written to the prompt cache (Anthropic, billed higher).
    pub cache_creation_tokens: i64,
    /// All generated tokens, reasoning included.
    pub output_tokens: i64,
    /// The part of `output_tokens` spent on reasoning ("thoughts").
    pub reasoning_tokens: i64,
    /// The part of `output_tokens` that is images (Gemini image models).
    pub image_output_tokens: i64,
}

impl Usage {
    /// The narrower usage billing takes (reasoning is ordinary output there).
    pub fn billing(&self) -> crate::pricing::Usage {
        crate::pricing::Usage {
            prompt_tokens: self.input_tokens,
            completion_tokens: self.output_tokens,
            cached_tokens: self.cache_read_tokens,
            cache_creation_tokens: self.cache_creation_tokens,
            image_output_tokens: self.image_output_tokens,
        }
    }

    /// OpenAI's prompt details: cache reads, and cache writes when there are any.
    fn prompt_details(&self) -> Value {
        let mut details = json!({"cached_tokens": self.cache_read_tokens});
        if self.cache_creation_tokens > 0 {
            details["cached_creation_tokens"] = json!(self.cache_creation_tokens);
        }
        details
    }

    /// Prompt tokens neither read from nor written to the cache.
    pub fn fresh_input_tokens(&self) -> i64 {
        self.input_tokens
            .saturating_sub(self.cache_read_tokens)
            .saturating_sub(self.cache_creation_tokens)
            .max(0)
    }

    /// Input plus output.
    pub fn total_tokens(&self) -> i64 {
        self.input_tokens.saturating_add(self.output_tokens)
    }

    /// OpenAI chat `usage`.
    pub fn to_openai(&self) -> Value {
        json!({
            "prompt_tokens": self.input_tokens,
            "completion_tokens": self.output_tokens,
            "total_tokens": self.total_tokens(),
            "prompt_tokens_details": self.prompt_details(),
            "completion_tokens_details": {"reasoning_tokens": self.reasoning_tokens},
        })
    }

    /// OpenAI Responses `usage`.
    pub fn to_responses(&self) -> Value {
        json!({
            "input_tokens": self.input_tokens,
            "input_tokens_details": self.prompt_details(),
            "output_tokens": self.output_tokens,
            "output_tokens_details": {"reasoning_tokens": self.reasoning_tokens},
            "total_tokens": self.total_tokens(),
        })
    }

    /// Anthropic `usage` (its `input_tokens` excludes the cache counts).
    pub fn to_anthropic(&self) -> Value {
        json!({
            "input_tokens": self.fresh_input_tokens(),
            "cache_creation_input_tokens": self.cache_creation_tokens,
            "cache_read_input_tokens": self.cache_read_tokens,
            "output_tokens": self.output_tokens,
        })
    }

    /// Gemini `usageMetadata` (its candidates count excludes thoughts).
    pub fn to_gemini(&self) -> Value {
        let mut meta = json!({
            "promptTokenCount": self.input_tokens,
            "candidatesTokenCount": self.output_tokens.saturating_sub(self.reasoning_tokens).max(0),
            "totalTokenCount": self.total_tokens(),
        });
        if self.cache_read_tokens > 0 {
            meta["cachedContentTokenCount"] = json!(self.cache_read_tokens);
        }
        if self.reasoning_tokens > 0 {
            meta["thoughtsTokenCount"] = json!(self.reasoning_tokens);
        }
        meta
    }

    /// Reads OpenAI chat/completions/embeddings `usage` (DeepSeek's cache-hit name too).
    pub fn from_openai(usage: &Value) -> Usage {
        let cached = count(&usage["prompt_tokens_details"]["cached_tokens"]);
        let input = count(&usage["prompt_tokens"]);
        Usage {
            input_tokens: if input > 0 {
                input
            } else {
                count(&usage["total_tokens"])
            },
            cache_read_tokens: if cached > 0 {
                cached
            } else {
                count(&usage["prompt_cache_hit_tokens"])
            },
            cache_creation_tokens: count(&usage["prompt_tokens_details"]["cached_creation_tokens"]),
            output_tokens: count(&usage["completion_tokens"]),
            reasoning_tokens: count(&usage["completion_tokens_details"]["reasoning_tokens"]),
            image_output_tokens: 0,
        }
    }

    /// Reads OpenAI Responses `usage`.
    pub fn from_responses(usage: &Value) -> Usage {
        Usage {
            input_tokens: count(&usage["input_tokens"]),
            cache_read_tokens: count(&usage["input_tokens_details"]["cached_tokens"]),
            cache_creation_tokens: count(&usage["input_tokens_details"]["cached_creation_tokens"]),
            output_tokens: count(&usage["output_tokens"]),
            reasoning_tokens: count(&usage["output_tokens_details"]["reasoning_tokens"]),
            image_output_tokens: 0,
        }
    }

    /// Merges an Anthropic `usage` object into what is known: `message_start` gives the input
    /// counts, each `message_delta` the output so far (and sometimes restates the input).
    pub fn merge_anthropic(&mut self, usage: &Value) {
        let read = |key: &str| usage.get(key).filter(|v| !v.is_null()).map(count);
        if let Some(read_tokens) = read("cache_read_input_tokens") {
            self.cache_read_tokens = read_tokens;
        }
        if let Some(created) = read("cache_creation_input_tokens") {
            self.cache_creation_tokens = created;
        }
        let fresh = read("input_tokens");
        if let Some(fresh) = fresh {
            self.input_tokens = fresh
                .saturating_add(self.cache_read_tokens)
                .saturating_add(self.cache_creation_tokens);
        } else if self.input_tokens < self.cache_read_tokens + self.cache_creation_tokens {
            self.input_tokens = self
                .cache_read_tokens
                .saturating_add(self.cache_creation_tokens);
        }
        if let Some(output) = read("output_tokens") {
            self.output_tokens = output;
        }
    }

    /// Reads an Anthropic `usage` object on its own.
    pub fn from_anthropic(usage: &Value) -> Usage {
        let mut merged = Usage::default();
        merged.merge_anthropic(usage);
        merged
    }

    /// Reads Gemini `usageMetadata` (tool-use prompt tokens count as input, thoughts as
    /// output).
    pub fn from_gemini(meta: &Value) -> Usage {
        let thoughts = count(&meta["thoughtsTokenCount"]);
        Usage {
            input_tokens: count(&meta["promptTokenCount"])
                .saturating_add(count(&meta["toolUsePromptTokenCount"])),
            cache_read_tokens: count(&meta["cachedContentTokenCount"]),
            cache_creation_tokens: 0,
            output_tokens: count(&meta["candidatesTokenCount"]).saturating_add(thoughts),
            reasoning_tokens: thoughts,
            image_output_tokens: image_tokens(&meta["candidatesTokensDetails"]),
        }
    }
}

impl From<Usage> for crate::pricing::Usage {
    fn from(usage: Usage) -> Self {
        usage.billing()
    }
}

/// The IMAGE tokens of a Gemini per-modality list (`candidatesTokensDetails`:
/// `[{"modality": "IMAGE", "tokenCount": n}, ...]`); 0 for anything else.
pub(crate) fn image_tokens(details: &Value) -> i64 {
    details.as_array().map_or(0, |details| {
        details
            .iter()
            .filter(|detail| detail["modality"] == "IMAGE")
            .fold(0i64, |sum, detail| {
                sum.saturating_add(count(&detail["tokenCount"]))
            })
    })
}

/// A token count as providers write it: integers, floats from sloppy upstreams, numeric
/// strings; anything else or negative counts as 0.
pub(crate) fn count(value: &Value) -> i64 {
    let number = match value {
        Value::Number(n) => n
            .as_i64()
            .or_else(|| n.as_u64().map(|_| i64::MAX))
            .or_else(|| n.as_f64().map(|f| f.round() as i64)),
        Value::String(s) => s.trim().parse::<i64>().ok(),
        _ => None,
    };
    number.unwrap_or(0).max(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anthropic_counts_merge_across_events() {
        let mut usage = Usage::default();
        usage.merge_anthropic(
            &json!({"input_tokens": 25, "cache_creation_input_tokens": 10,
            "cache_read_input_tokens": 100, "output_tokens": 1}),
        );
        usage.merge_anthropic(&json!({"output_tokens": 15}));
        assert_eq!(
            usage,
            Usage {
                input_tokens: 135,
                cache_read_tokens: 100,
                cache_creation_tokens: 10,
                output_tokens: 15,
                reasoning_tokens: 0,
                image_output_tokens: 0
            }
        );
        assert_eq!(usage.to_anthropic()["input_tokens"], 25);
        let billing = usage.billing();
        assert_eq!(
            (
                billing.prompt_tokens,
                billing.completion_tokens,
                billing.cached_tokens
            ),
            (135, 15, 100)
        );
        assert_eq!(billing.cache_creation_tokens, 10);
        // The OpenAI shapes carry the cache writes across, as new-api writes them.
        assert_eq!(
            usage.to_openai()["prompt_tokens_details"]["cached_creation_tokens"],
            10
        );
        assert_eq!(Usage::from_openai(&usage.to_openai()), usage);
        assert_eq!(Usage::from_responses(&usage.to_responses()), usage);
        assert_eq!(Usage::from_anthropic(&usage.to_anthropic()), usage);
    }

    #[test]
    fn gemini_thoughts_are_output_and_round_trip() {
        let usage = Usage::from_gemini(&json!({"promptTokenCount": 12, "candidatesTokenCount": 7,
            "thoughtsTokenCount": 20, "cachedContentTokenCount": 8, "toolUsePromptTokenCount": 3,
            "totalTokenCount": 42}));
        assert_eq!(usage.input_tokens, 15);
        assert_eq!(usage.output_tokens, 27);
        assert_eq!(usage.reasoning_tokens, 20);
        assert_eq!(usage.cache_read_tokens, 8);
        assert_eq!(Usage::from_gemini(&usage.to_gemini()), usage);
        assert_eq!(Usage::from_openai(&usage.to_openai()), usage);
        assert_eq!(Usage::from_responses(&usage.to_responses()), usage);
    }

    #[test]
    fn sloppy_counts() {
        assert_eq!(count(&json!(3.6)), 4);
        assert_eq!(count(&json!(-2)), 0);
        assert_eq!(count(&json!("17")), 17);
        assert_eq!(count(&json!(u64::MAX)), i64::MAX);
        assert_eq!(count(&Value::Null), 0);
        let deepseek = Usage::from_openai(&json!({"prompt_tokens": 10, "completion_tokens": 2,
            "prompt_cache_hit_tokens": 6}));
        assert_eq!(deepseek.cache_read_tokens, 6);
    }
}
