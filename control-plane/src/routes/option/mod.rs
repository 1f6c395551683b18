//! `/api/option/*`: the operator's settings as key/value text, for the root user only (new-api
//! guards them with `RootAuth`; an admin or common user gets "insufficient privileges").
//! Every change is announced on the change feed so that every process reloads its settings.

mod groups;
mod list;
mod pricing;
mod update;

use crate::app::AppState;
use axum::Router;
use axum::routing::{MethodRouter, get};

/// The routes, relative to `/api/option`.
pub fn router() -> Router<AppState> {
    Router::new().route("/", root())
}

/// `/api/option/` itself. Nested at `/api/option`, `"/"` matches only the path without the
/// trailing slash, which new-api's console always sends: this is also routed at `/api/option/`.
pub fn root() -> MethodRouter<AppState> {
    get(list::list).put(update::update)
}
