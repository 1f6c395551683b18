//! The API formats Pylon speaks on either side of the relay, and the operations a request can
//! ask for. A format decides request and answer shapes, streaming framing and error shapes.

/// One provider API shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ApiFormat {
    /// OpenAI `/v1/chat/completions`.
    OpenAiChat,
    /// OpenAI legacy `/v1/completions`.
    OpenAiCompletions,
    /// OpenAI `/v1/responses`.
    OpenAiResponses,
    /// OpenAI `/v1/embeddings`.
    OpenAiEmbeddings,
    /// OpenAI `/v1/images/*` (relayed as is, never converted).
    OpenAiImages,
    /// OpenAI `/v1/audio/*` (relayed as is, never converted).
    OpenAiAudio,
    /// OpenAI `/v1/moderations` (relayed as is, never converted).
    OpenAiModerations,
    /// Anthropic `/v1/messages`.
    Anthropic,
    /// Google Gemini `generateContent` and friends.
    Gemini,
}

/// Which provider's error, model-list and authentication conventions apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Family {
    /// OpenAI and everything shaped like it.
    OpenAi,
    /// Anthropic.
    Anthropic,
    /// Google Gemini.
    Gemini,
}

impl ApiFormat {
    /// The provider family whose conventions the format follows.
    pub fn family(self) -> Family {
        match self {
            ApiFormat::Anthropic => Family::Anthropic,
            ApiFormat::Gemini => Family::Gemini,
            _ => Family::OpenAi,
        }
    }

    /// Whether requests and answers of this format can go through the intermediate
    /// representation (and so to an upstream of another format).
    pub fn is_convertible(self) -> bool {
        matches!(
            self,
            ApiFormat::OpenAiChat
                | ApiFormat::OpenAiResponses
                | ApiFormat::Anthropic
                | ApiFormat::Gemini
        )
    }
}

/// What a request asks the upstream to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Op {
    /// Generate an answer (chat, messages, generateContent, responses, completions).
    Generate,
    /// Count the tokens of a prompt (`/v1/messages/count_tokens`, `:countTokens`).
    CountTokens,
    /// Embed one input (`/v1/embeddings`, `:embedContent`).
    Embed,
    /// Embed several inputs (`:batchEmbedContents`).
    BatchEmbed,
    /// Any other OpenAI endpoint relayed as is (images, audio, moderations).
    Relay,
    /// List the models (`GET /v1/models`, `GET /v1beta/models`).
    ListModels,
    /// Describe one model (`GET /v1/models/{m}`, `GET /v1beta/models/{m}`).
    GetModel,
}

impl Op {
    /// Whether the operation is answered by the gateway itself, without an upstream.
    pub fn is_local(self) -> bool {
        matches!(self, Op::ListModels | Op::GetModel)
    }
}
