//! The formats layer (pure code, no I/O): the request and answer shapes of OpenAI, Anthropic
//! and Gemini, recognising which one a client speaks ([`ingress`]), errors and model lists in
//! each shape, conversion between any two through one intermediate representation ([`ir`],
//! [`convert`]), a streaming transcoder that also reads usage ([`transcode`]), and each
//! channel type's URL, authentication and framing ([`provider`]).

pub mod errors;
pub mod format;
pub mod ingress;
pub mod models;

pub use errors::{ApiError, ErrorKind, parse_upstream_error};
pub use format::{ApiFormat, Family, Op};
pub use ingress::{Ingress, client_key, recognise};
pub mod convert;
pub mod ir;
pub mod usage;

pub use convert::{convert_request, convert_response};
pub use usage::Usage;
pub mod transcode;

pub use transcode::{ClientStream, Transcoder};
pub mod plan;
pub mod provider;

pub use plan::{Plan, plan_request};
pub use provider::{Channel, ChannelType, Outgoing, UpstreamRequest};
