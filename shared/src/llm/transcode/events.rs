//! What a streamed answer says, event by event, whatever its format: the decoders turn
//! upstream events into these, the encoders turn these into the client's events.

use crate::llm::errors::ApiError;
use crate::llm::ir::FinishReason;
use crate::llm::usage::Usage;

/// One step of a streamed answer.
#[derive(Debug, Clone, PartialEq)]
pub enum StreamEvent {
    /// The answer began (its id and model, when the upstream says).
    Start {
        /// The upstream's id.
        id: String,
        /// The upstream's model.
        model: String,
    },
    /// Generated text.
    Text(String),
    /// Reasoning text.
    Reasoning(String),
    /// The signature closing a reasoning block (Anthropic).
    ReasoningSignature(String),
    /// A tool call begins; `index` identifies it among this answer's calls.
    ToolStart {
        /// The call's position in the upstream's numbering.
        index: u64,
        /// The call's id.
        id: String,
        /// The function's name.
        name: String,
    },
    /// More argument text of the call `index`.
    ToolArguments {
        /// The call's position in the upstream's numbering.
        index: u64,
        /// JSON text to append.
        delta: String,
    },
    /// Usage known so far (the latest replaces earlier ones).
    Usage(Usage),
    /// Why generation stopped.
    Finish(FinishReason),
    /// The upstream reported an error inside the stream.
    Error(ApiError),
    /// The upstream's end-of-stream marker.
    End,
}
