//! The intermediate representation every convertible format is translated to and from, so
//! each format needs two converters (to the IR, from the IR) rather than one per pair.
//! It keeps what at least two formats share; what only one format has is dropped on
//! conversion (and kept untouched when no conversion happens).

use serde_json::Value;

use super::usage::Usage;

/// A generation request.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Request {
    /// The model asked for (may be empty when the format puts it in the path).
    pub model: String,
    /// System instructions, in order (text parts).
    pub system: Vec<Part>,
    /// The conversation.
    pub messages: Vec<Message>,
    /// Functions the model may call.
    pub tools: Vec<Tool>,
    /// Whether and which tool must be called.
    pub tool_choice: Option<ToolChoice>,
    /// Stop sequences.
    pub stop: Vec<String>,
    /// Sampling temperature.
    pub temperature: Option<f64>,
    /// Nucleus sampling.
    pub top_p: Option<f64>,
    /// Top-k sampling (Anthropic, Gemini).
    pub top_k: Option<u64>,
    /// Most tokens to generate.
    pub max_tokens: Option<u64>,
    /// Plain text, any JSON object, or JSON following a schema.
    pub response_format: Option<ResponseFormat>,
    /// Reasoning ("thinking") settings.
    pub reasoning: Option<Reasoning>,
    /// A streamed answer is wanted.
    pub stream: bool,
    /// The client asked for the usage chunk of an OpenAI stream (`stream_options`).
    pub include_usage: bool,
}

/// Who speaks a message. Tool results travel in [`Role::User`] messages as
/// [`Part::ToolResult`] (Anthropic's and Gemini's way).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The user (and tool results).
    User,
    /// The model.
    Assistant,
}

/// One turn of the conversation.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    /// Who speaks.
    pub role: Role,
    /// What is said, in order.
    pub parts: Vec<Part>,
}

/// Where an image or document comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum Media {
    /// A URL the provider fetches (`data:` URLs are turned into [`Media::Base64`]).
    Url(String),
    /// Inline bytes, base64-encoded.
    Base64 {
        /// MIME type, for example `image/png` or `application/pdf`.
        media_type: String,
        /// The base64 text.
        data: String,
    },
}

impl Media {
    /// A URL, split into inline data when it is a `data:<type>;base64,<data>` URL.
    pub fn from_url(url: &str) -> Media {
        if let Some(rest) = url.strip_prefix("data:")
            && let Some((meta, data)) = rest.split_once(',')
            && let Some(media_type) = meta.strip_suffix(";base64")
        {
            return Media::Base64 {
                media_type: media_type.to_owned(),
                data: data.to_owned(),
            };
        }
        Media::Url(url.to_owned())
    }

    /// As a URL (inline data as a `data:` URL).
    pub fn to_url(&self) -> String {
        match self {
            Media::Url(url) => url.clone(),
            Media::Base64 { media_type, data } => format!("data:{media_type};base64,{data}"),
        }
    }
}

/// A piece of a message.
#[derive(Debug, Clone, PartialEq)]
pub enum Part {
    /// Text.
    Text(String),
    /// An image.
    Image(Media),
    /// A document (PDF).
    Document {
        /// Where it is.
        source: Media,
        /// A file name, when given.
        name: Option<String>,
    },
    /// A call of a tool by the model.
    ToolCall(ToolCall),
    /// The result of a tool call, sent back by the client.
    ToolResult {
        /// The call answered.
        call_id: String,
        /// The tool's name (Gemini needs it; recovered from the call when absent).
        name: String,
        /// The result (text parts, images).
        content: Vec<Part>,
        /// The tool failed.
        is_error: bool,
    },
    /// The model's reasoning, with the provider's signature when it has one (Anthropic
    /// `thinking`, Gemini `thought`, OpenAI-compatible `reasoning_content`).
    Reasoning {
        /// The reasoning text.
        text: String,
        /// Anthropic's signature or Gemini's `thoughtSignature`.
        signature: Option<String>,
    },
}

/// A tool call.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolCall {
    /// The call's id (generated when the format has none).
    pub id: String,
    /// The function's name.
    pub name: String,
    /// The arguments, as JSON text.
    pub arguments: String,
}

/// A function the model may call.
#[derive(Debug, Clone, PartialEq)]
pub struct Tool {
    /// Its name.
    pub name: String,
    /// What it does.
    pub description: Option<String>,
    /// JSON schema of its arguments.
    pub parameters: Value,
}

/// Whether and which tool must be called.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ToolChoice {
    /// The model decides.
    Auto,
    /// No tool may be called.
    None,
    /// Some tool must be called.
    Required,
    /// This tool must be called.
    Named(String),
}

/// The shape of the answer.
#[derive(Debug, Clone, PartialEq)]
pub enum ResponseFormat {
    /// Plain text.
    Text,
    /// Any JSON object.
    JsonObject,
    /// JSON following a schema.
    JsonSchema {
        /// The schema's name (OpenAI requires one).
        name: String,
        /// The schema.
        schema: Value,
        /// OpenAI's `strict`.
        strict: Option<bool>,
    },
}

/// How much the model may reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effort {
    /// Minimal or no reasoning.
    Minimal,
    /// Low.
    Low,
    /// Medium.
    Medium,
    /// High.
    High,
}

impl Effort {
    /// OpenAI's name.
    pub fn name(self) -> &'static str {
        match self {
            Effort::Minimal => "minimal",
            Effort::Low => "low",
            Effort::Medium => "medium",
            Effort::High => "high",
        }
    }

    /// Parses OpenAI's name.
    pub fn parse(name: &str) -> Option<Effort> {
        Some(match name {
            "minimal" | "none" => Effort::Minimal,
            "low" => Effort::Low,
            "medium" => Effort::Medium,
            "high" | "xhigh" => Effort::High,
            _ => return None,
        })
    }

    /// A token budget standing for the effort (Anthropic and Gemini take budgets).
    pub fn budget(self) -> u64 {
        match self {
            Effort::Minimal => 1024,
            Effort::Low => 2048,
            Effort::Medium => 8192,
            Effort::High => 24576,
        }
    }

    /// The effort a budget stands for.
    pub fn of_budget(budget: u64) -> Effort {
        match budget {
            0..=1024 => Effort::Minimal,
            1025..=4096 => Effort::Low,
            4097..=16384 => Effort::Medium,
            _ => Effort::High,
        }
    }
}

/// Reasoning settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reasoning {
    /// Reasoning is on (Anthropic `thinking.type` enabled; Gemini budget non-zero).
    pub enabled: bool,
    /// OpenAI's effort, when given.
    pub effort: Option<Effort>,
    /// A token budget, when given.
    pub budget_tokens: Option<u64>,
}

impl Reasoning {
    /// The budget, given or derived from the effort.
    pub fn budget(&self) -> u64 {
        self.budget_tokens
            .or_else(|| self.effort.map(Effort::budget))
            .unwrap_or(Effort::Medium.budget())
    }

    /// The effort, given or derived from the budget.
    pub fn effort(&self) -> Effort {
        self.effort
            .or_else(|| self.budget_tokens.map(Effort::of_budget))
            .unwrap_or(Effort::Medium)
    }
}

/// Why generation stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FinishReason {
    /// The model finished its turn.
    Stop,
    /// A stop sequence was generated (Anthropic reports which).
    StopSequence(Option<String>),
    /// The token limit was reached.
    Length,
    /// The model called tools.
    ToolCalls,
    /// Output was blocked (safety, recitation, refusal).
    ContentFilter,
    /// Anything else, under the upstream's own name.
    Other(String),
}

/// A complete (non-streamed) answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Response {
    /// The answer's id.
    pub id: String,
    /// The model that answered.
    pub model: String,
    /// Text, reasoning and tool calls, in order.
    pub parts: Vec<Part>,
    /// Why it stopped.
    pub finish: FinishReason,
    /// Token counts.
    pub usage: Usage,
}

/// Tool-call ids for formats that have none: `call_<n>` numbered in order.
pub(crate) fn generated_call_id(n: usize) -> String {
    format!("call_{n}")
}

/// The name of the tool call `call_id` in `messages` (tool results in OpenAI and Anthropic
/// carry only the id; Gemini needs the name).
pub(crate) fn tool_name_of(messages: &[Message], call_id: &str) -> Option<String> {
    messages.iter().rev().find_map(|message| {
        message.parts.iter().find_map(|part| match part {
            Part::ToolCall(call) if call.id == call_id => Some(call.name.clone()),
            _ => None,
        })
    })
}
