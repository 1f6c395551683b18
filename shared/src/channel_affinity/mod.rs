//! new-api's channel affinity: a request whose rule finds a session key (a `prompt_cache_key`,
//! a Claude Code session, …) goes to the channel that served that key before, so that the
//! upstream's prompt cache keeps hitting. The proxy holds the bindings (in its memory, or in
//! Redis across nodes); this module is what both processes need: the setting and its rules,
//! the body paths rules read, and what the proxy tells the control plane about its bindings.

pub mod json_path;
pub mod setting;
pub mod wire;

pub use setting::{KeySource, Rule, Setting, SourceKind};
