//! The administrators' CSV downloads (see the module above).

use crate::app::{App, AppState};
use crate::auth::AdminUser;
use axum::body::Body;
use axum::extract::State;
use axum::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use pylon_shared::db::{Export, csv_line};

pub async fn users(State(app): State<AppState>, _admin: AdminUser) -> Response {
    download(&app, Export::Users, "users.csv")
}

pub async fn orders(State(app): State<AppState>, _admin: AdminUser) -> Response {
    download(&app, Export::Orders, "orders.csv")
}

pub async fn usage(State(app): State<AppState>, _admin: AdminUser) -> Response {
    download(&app, Export::Usage, "usage.csv")
}

pub async fn upstream_keys(State(app): State<AppState>, _admin: AdminUser) -> Response {
    download(&app, Export::UpstreamKeys, "upstream_keys.csv")
}

/// The header line, then each batch of rows as it is read. A database failure mid-way ends the
/// body early (the client sees a truncated download) and is logged.
fn download(app: &App, export: Export, filename: &'static str) -> Response {
    let header: Vec<String> = export.header().iter().map(|h| (*h).to_string()).collect();
    let first = futures::stream::once(async move { Ok(Bytes::from(csv_line(&header))) });
    let rows = app
        .db
        .export_batches(export)
        .map_ok(|batch| Bytes::from(batch.iter().map(|row| csv_line(row)).collect::<String>()))
        .map_err(move |error| {
            tracing::error!(%error, filename, "an export failed mid-way");
            std::io::Error::other(error.to_string())
        });
    let body = Body::from_stream(first.chain(rows));
    (
        [
            (CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (
                CONTENT_DISPOSITION,
                format!("attachment; filename=\"{filename}\""),
            ),
        ],
        body,
    )
        .into_response()
}
