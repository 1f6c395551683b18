//! Lua scripts run by their SHA-1 (`EVALSHA`): Redis keeps a script's compiled form once it has
//! seen it, so each call sends 40 hex digits instead of the script's text (up to a kilobyte on
//! the relay's hot path, which Redis would hash again on every `EVAL`). A Redis that does not
//! know the script (restarted, `SCRIPT FLUSH`ed, another node of a cluster) answers `NOSCRIPT`,
//! and the script is loaded and run again (fred's `evalsha_with_reload`).

use fred::clients::Client;
use fred::error::Error;
use fred::types::scripts::Script;
use fred::types::{FromValue, MultipleKeys, MultipleValues};
use std::sync::OnceLock;

/// A Lua script declared as a `static` and hashed on first use.
pub struct LuaScript {
    lua: &'static str,
    script: OnceLock<Script>,
}

impl LuaScript {
    pub const fn new(lua: &'static str) -> Self {
        Self {
            lua,
            script: OnceLock::new(),
        }
    }

    /// The script's text.
    pub fn lua(&self) -> &'static str {
        self.lua
    }

    /// Runs the script with `keys` and `args` on `client`.
    pub async fn run<R, K, V>(&self, client: &Client, keys: K, args: V) -> Result<R, Error>
    where
        R: FromValue,
        K: Into<MultipleKeys> + Send,
        V: TryInto<MultipleValues> + Send,
        V::Error: Into<Error> + Send,
    {
        self.script
            .get_or_init(|| Script::from_lua(self.lua))
            .evalsha_with_reload(client, keys, args)
            .await
    }
}
