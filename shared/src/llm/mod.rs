//! The formats layer (pure code, no I/O): the request and answer shapes of OpenAI, Anthropic
//! and Gemini, recognising which one a client speaks ([`ingress`]), errors and model lists in
//! each shape, conversion between any two through one intermediate representation ([`ir`],
//! [`convert`]), a streaming transcoder that also reads usage ([`transcode`]), and each
//! channel type's URL, authentication and framing ([`provider`]).
//!
//! How the relay uses it, per request:
//! 1. [`recognise`] the method, path and headers → [`Ingress`] (format, op, model and stream
//!    from the path); [`client_key`] finds the key. Unknown path: 404 via [`ApiError`] rendered
//!    in the family the path belongs to. `Op::ListModels`/`GetModel`: [`models`].
//! 2. Choose a channel; [`plan_request`] → [`Plan`] (upstream format, body, stream flag,
//!    whether the client wants OpenAI's usage chunk, max tokens for admission).
//! 3. [`provider::build`] → [`UpstreamRequest`] (Vertex: first [`provider::vertex::token_request`]
//!    and [`provider::vertex::parse_token_answer`], cache the token; Bedrock: pass `amz_date`).
//! 4. Answer: an error status → [`parse_upstream_error`] then [`ApiError::render`] in the
//!    client's family. A stream → [`Transcoder::new`] with [`Plan::client_stream`], `feed` each
//!    chunk (Bedrock: through [`provider::bedrock::StreamAdapter`] first), `finish` at the end,
//!    bill [`Transcoder::usage`] ([`Usage::billing`] for today's pricing). A complete answer →
//!    [`Plan::answer`] (converted when the plan converted, else unchanged; usage when the IR
//!    reads it, else `usage::usage_from_json`).
//!
//! `Outgoing::op` is `plan.upstream_op` (an OpenAI embedding request becomes a Gemini batch).

pub mod convert;
pub mod errors;
pub mod format;
pub mod ingress;
pub mod ir;
pub mod models;
pub mod plan;
pub mod provider;
pub mod transcode;
pub mod usage;

pub use convert::{convert_request, convert_response};
pub use errors::{ApiError, ErrorKind, parse_upstream_error};
pub use format::{ApiFormat, Family, Op};
pub use ingress::{Ingress, client_key, recognise};
pub use plan::{Plan, plan_request};
pub use provider::{Channel, ChannelCaps, ChannelType, Outgoing, UpstreamRequest};
pub use transcode::{ClientStream, Transcoder};
pub use usage::Usage;
