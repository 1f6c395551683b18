//! Fixtures of the catalogue tests (`tests/tests/catalogue_*.rs`): a root console on the
//! control plane served in process, successful answers' data, and option values as the root
//! user reads them.

use crate::Console;
use crate::client::Answer;
use crate::in_process::InProcess;
use crate::user_admin_fixtures::PASSWORD;
use serde_json::{Value, json};

/// The data of an answer that must have succeeded.
pub fn ok(answer: Answer) -> Value {
    assert!(answer.success(), "{answer:?}");
    answer.data().clone()
}

/// A logged-in root console on `plane`, after setup.
pub async fn root(plane: &InProcess) -> Console {
    let mut root = Console::new(&plane.base_url);
    root.setup_root("root", PASSWORD).await;
    root.login("root", PASSWORD).await;
    root
}

/// The value of option `key` as `GET /api/option/` shows it, parsed as JSON (null when unset
/// or not JSON).
pub async fn option(root: &Console, key: &str) -> Value {
    ok(root.get("/api/option/").await)
        .as_array()
        .and_then(|all| all.iter().find(|o| o["key"] == json!(key)))
        .and_then(|o| o["value"].as_str())
        .map(|text| serde_json::from_str(text).unwrap_or(Value::Null))
        .unwrap_or(Value::Null)
}
