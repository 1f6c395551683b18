//! `GET /v1/models` and `GET /v1/models/{id}`: the models this key may use, in OpenAI's format.

use super::auth::Caller;
use super::errors::{RelayError, write_json};
use super::snapshot::Snapshot;
use bytes::Bytes;
use pingora::proxy::Session;
use serde_json::json;

/// Answers a GET under /v1.
pub async fn answer(
    snapshot: &Snapshot,
    caller: &Caller,
    path: &str,
    session: &mut Session,
) -> pingora::Result<()> {
    let routes = snapshot.routes.load();
    let models: Vec<&str> = routes
        .models(caller.group())
        .into_iter()
        .filter(|m| caller.token.allows_model(m))
        .collect();
    let path = path.trim_end_matches('/');
    if path == "/v1/models" {
        let data: Vec<_> = models.iter().map(|m| model_object(m)).collect();
        let body = json!({ "object": "list", "data": data }).to_string();
        return write_json(session, 200, Bytes::from(body)).await;
    }
    if let Some(id) = path.strip_prefix("/v1/models/") {
        if models.contains(&id) {
            return write_json(session, 200, Bytes::from(model_object(id).to_string())).await;
        }
        return RelayError::model_not_found(format!("The model `{id}` does not exist"))
            .respond(session)
            .await;
    }
    RelayError::model_not_found(format!("Invalid URL (GET {path})"))
        .respond(session)
        .await
}

fn model_object(id: &str) -> serde_json::Value {
    json!({ "id": id, "object": "model", "created": 0, "owned_by": "pylon" })
}
