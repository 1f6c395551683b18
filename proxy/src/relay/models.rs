//! `GET /v1/models[/{id}]` and `GET /v1beta/models[/{id}]`: the models this key may use, in the
//! client's family (OpenAI, Anthropic for Anthropic clients, Gemini under `/v1beta`).

use super::auth::Caller;
use super::errors::{RelayError, write_json};
use super::snapshot::Snapshot;
use bytes::Bytes;
use pingora::proxy::Session;
use pylon_shared::llm::{Ingress, Op, models};

/// Answers a model list or one model's description.
pub async fn answer(
    snapshot: &Snapshot,
    caller: &Caller,
    ingress: &Ingress,
    session: &mut Session,
) -> pingora::Result<()> {
    let family = ingress.format.family();
    let routes = snapshot.routes.load();
    let allowed: Vec<&str> = super::routing::models(&routes, &caller.token, caller.group())
        .into_iter()
        .filter(|m| caller.token.allows_model(m))
        .collect();
    if ingress.op == Op::ListModels {
        let body = models::model_list(family, &allowed).to_string();
        return write_json(session, 200, Bytes::from(body)).await;
    }
    let id = ingress.model_from_path.as_deref().unwrap_or_default();
    let id = id.strip_prefix("models/").unwrap_or(id);
    if allowed.contains(&id) {
        let body = models::model(family, id).to_string();
        return write_json(session, 200, Bytes::from(body)).await;
    }
    RelayError::model_not_found(format!("The model `{id}` does not exist"))
        .respond_in(family, session)
        .await
}
