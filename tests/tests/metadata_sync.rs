//! new-api's official model metadata sync (`GET /api/models/sync_upstream/preview`,
//! `POST /api/models/sync_upstream`) on SQLite and on MySQL + Redis, with the control plane
//! served in this process and `control_plane.model_metadata_url` pointing at a mock metadata
//! source on a free port: the preview names the missing models the source describes and the
//! fields where records differ; the sync creates those records and the vendors they name,
//! overwrites only the chosen fields, never a record that opted out (`sync_official` 0); a
//! source that answers too late, not JSON or not a list is an error that changes nothing; only
//! administrators may call either.

use axum::Router;
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use pylon_tests::catalogue_fixtures::{ok, root};
use pylon_tests::fixtures::create_channel;
use pylon_tests::in_process::InProcess;
use pylon_tests::mock_server;
use pylon_tests::user_admin_fixtures::{PASSWORD, create_user};
use pylon_tests::{Backend, Console, on_every_backend};
use serde_json::json;
use sqlx::AnyPool;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What the mock source answers.
#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Good,
    NotJson,
    WrongShape,
    /// Answers after the control plane stopped waiting.
    Late,
}

#[derive(Clone)]
struct Source {
    mode: Arc<Mutex<Mode>>,
    /// Paths asked, in order.
    asked: Arc<Mutex<Vec<String>>>,
}

async fn serve(State(source): State<Source>, request: Request) -> Response {
    let path = request.uri().path().to_string();
    source.asked.lock().unwrap().push(path.clone());
    let mode = *source.mode.lock().unwrap();
    let models = json!({"success": true, "message": "", "data": [
        {"model_name": "gpt-4o", "description": "GPT-4o", "icon": "OpenAI", "tags": "chat,vision",
            "vendor_name": "OpenAI", "status": 1, "name_rule": 0, "endpoints": {"openai": {}}},
        {"model_name": "claude-3", "description": "Claude 3", "tags": "chat",
            "vendor_name": "Anthropic", "status": 1},
        {"model_name": "gpt-4o-mini", "description": "Mini", "icon": "OpenAI", "tags": "chat",
            "vendor_name": "OpenAI", "status": 0},
        {"model_name": "o1", "description": "Reasoning", "vendor_name": "OpenAI", "status": 1},
    ]});
    let vendors = json!([
        {"name": "OpenAI", "description": "OpenAI Inc", "icon": "OpenAI", "status": 1},
        {"name": "Anthropic", "description": "Claude's maker", "icon": "Claude.Color"},
    ]);
    match mode {
        Mode::Good if path.ends_with("/newapi/models.json") => models.to_string().into_response(),
        Mode::Good if path.ends_with("/newapi/vendors.json") => vendors.to_string().into_response(),
        Mode::Good => (axum::http::StatusCode::NOT_FOUND, "no such file").into_response(),
        Mode::NotJson => "<html>maintenance</html>".into_response(),
        Mode::WrongShape => json!({"models": [{"model_name": "gpt-4o"}]})
            .to_string()
            .into_response(),
        Mode::Late => {
            tokio::time::sleep(Duration::from_secs(30)).await;
            models.to_string().into_response()
        }
    }
}

/// The catalogue as `(model_name, description, icon, tags, vendor name, status)`, and the
/// vendors as `(name, description, icon)`.
async fn catalogue(
    pool: &AnyPool,
) -> (
    Vec<(String, String, String, String, String, i64)>,
    Vec<(String, String, String)>,
) {
    let models = sqlx::query_as(
        "SELECT m.model_name, m.description, m.icon, m.tags, COALESCE(v.name, ''), m.status \
         FROM models m LEFT JOIN vendors v ON v.id = m.vendor_id ORDER BY m.model_name",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    let vendors = sqlx::query_as("SELECT name, description, icon FROM vendors ORDER BY name")
        .fetch_all(pool)
        .await
        .unwrap();
    (models, vendors)
}

async fn metadata_is_synced_from_the_source(backend: Backend) {
    let source = Source {
        mode: Arc::new(Mutex::new(Mode::Good)),
        asked: Arc::new(Mutex::new(Vec::new())),
    };
    let bound = mock_server::bind("model metadata source").await;
    let base = bound.base_url.clone();
    let _mock = bound.serve(Router::new().fallback(serve).with_state(source.clone()));
    let plane = InProcess::start_with(
        backend,
        vec![
            (
                "PYLON__CONTROL_PLANE__MODEL_METADATA_URL".into(),
                base.clone(),
            ),
            (
                "PYLON__CONTROL_PLANE__MODEL_METADATA_TIMEOUT_SECS".into(),
                "1".into(),
            ),
        ],
    )
    .await;
    let root = root(&plane).await;
    sqlx::any::install_default_drivers();
    let pool = AnyPool::connect(&plane.state.config.database.url)
        .await
        .unwrap();
    create_channel(
        &root,
        json!({"type": 1, "name": "main", "key": "k", "base_url": "http://127.0.0.1:9",
            "models": "gpt-4o,claude-3,local-only", "group": "default"}),
    )
    .await;
    ok(root
        .post(
            "/api/models/",
            json!({"model_name": "gpt-4o-mini", "description": "mine", "tags": "chat"}),
        )
        .await);
    ok(root
        .post(
            "/api/models/",
            json!({"model_name": "o1", "description": "kept", "sync_official": 0}),
        )
        .await);
    let before = catalogue(&pool).await;

    // The preview: missing models the source describes, and what differs.
    let preview = ok(root.get("/api/models/sync_upstream/preview").await);
    let mut missing: Vec<String> = serde_json::from_value(preview["missing"].clone()).unwrap();
    missing.sort();
    assert_eq!(missing, ["claude-3", "gpt-4o"]);
    assert_eq!(
        preview["conflicts"],
        json!([{"model_name": "gpt-4o-mini", "fields": [
            {"field": "description", "local": "mine", "upstream": "Mini"},
            {"field": "icon", "local": "", "upstream": "OpenAI"},
            {"field": "vendor", "local": "", "upstream": "OpenAI"},
        ]}]),
        "o1 opted out; an unset source status is no difference"
    );
    assert_eq!(
        preview["source"],
        json!({"locale": "", "models_url": format!("{base}/api/newapi/models.json"),
            "vendors_url": format!("{base}/api/newapi/vendors.json")})
    );
    assert_eq!(catalogue(&pool).await, before, "a preview changes nothing");
    // A locale reads its translation.
    ok(root
        .get("/api/models/sync_upstream/preview?locale=ja")
        .await);
    assert!(
        source
            .asked
            .lock()
            .unwrap()
            .contains(&"/api/i18n/ja/newapi/models.json".to_string())
    );

    // Sources that cannot be read: a clear error, nothing changes.
    let overwrite = json!({"overwrite": [
        {"model_name": "gpt-4o-mini", "fields": ["description", "vendor", "context_length"]},
        {"model_name": "o1", "fields": ["description"]},
    ]});
    for (mode, reason) in [
        (Mode::NotJson, "not JSON"),
        (Mode::WrongShape, "no list"),
        (Mode::Late, "no answer within 1 s"),
    ] {
        *source.mode.lock().unwrap() = mode;
        let preview = root.get("/api/models/sync_upstream/preview").await;
        assert!(!preview.success(), "{preview:?}");
        assert!(preview.message().contains(reason), "{preview:?}");
        let sync = root
            .post("/api/models/sync_upstream", overwrite.clone())
            .await;
        assert!(!sync.success(), "{sync:?}");
        assert!(sync.message().contains(reason), "{sync:?}");
        assert_eq!(catalogue(&pool).await, before);
    }

    // Administrators only.
    create_user(&root, "alice", 1).await;
    let mut alice = Console::new(&plane.base_url);
    alice.login("alice", PASSWORD).await;
    *source.mode.lock().unwrap() = Mode::Good;
    assert!(
        !alice
            .post("/api/models/sync_upstream", json!({}))
            .await
            .success()
    );
    assert!(
        !alice
            .get("/api/models/sync_upstream/preview")
            .await
            .success()
    );
    assert_eq!(catalogue(&pool).await, before);

    // The sync: missing records created with their vendors, chosen fields overwritten.
    let synced = ok(root
        .post("/api/models/sync_upstream", overwrite.clone())
        .await);
    assert_eq!(synced["created_models"], json!(2));
    assert_eq!(synced["created_vendors"], json!(2));
    assert_eq!(synced["updated_models"], json!(1));
    let mut created: Vec<String> = serde_json::from_value(synced["created_list"].clone()).unwrap();
    created.sort();
    assert_eq!(created, ["claude-3", "gpt-4o"]);
    assert_eq!(synced["updated_list"], json!(["gpt-4o-mini"]));
    assert_eq!(synced["skipped_models"], json!(["local-only"]));
    let text = |s: &str| s.to_string();
    let (models, vendors) = catalogue(&pool).await;
    assert_eq!(
        models,
        vec![
            (
                text("claude-3"),
                text("Claude 3"),
                text(""),
                text("chat"),
                text("Anthropic"),
                1
            ),
            (
                text("gpt-4o"),
                text("GPT-4o"),
                text("OpenAI"),
                text("chat,vision"),
                text("OpenAI"),
                1
            ),
            (
                text("gpt-4o-mini"),
                text("Mini"),
                text(""),
                text("chat"),
                text("OpenAI"),
                1
            ),
            (text("o1"), text("kept"), text(""), text(""), text(""), 1),
        ]
    );
    assert_eq!(
        vendors,
        vec![
            (
                text("Anthropic"),
                text("Claude's maker"),
                text("Claude.Color")
            ),
            (text("OpenAI"), text("OpenAI Inc"), text("OpenAI")),
        ]
    );

    // Again, with no body: nothing left to create but what the source does not describe.
    let after = catalogue(&pool).await;
    let again = root.post_raw("/api/models/sync_upstream", "").await;
    assert!(again.success(), "{again:?}");
    assert_eq!(again.data()["created_models"], json!(0));
    assert_eq!(again.data()["skipped_models"], json!(["local-only"]));
    assert_eq!(catalogue(&pool).await, after);
    // A body that is not JSON is refused.
    let bad = root
        .post_raw("/api/models/sync_upstream", "{overwrite")
        .await;
    assert!(!bad.success(), "{bad:?}");
    assert!(bad.message().starts_with("Invalid parameters"), "{bad:?}");
    let preview = ok(root.get("/api/models/sync_upstream/preview").await);
    assert_eq!(preview["missing"], json!([]));
    assert_eq!(
        preview["conflicts"],
        json!([{"model_name": "gpt-4o-mini", "fields": [
            {"field": "icon", "local": "", "upstream": "OpenAI"},
        ]}])
    );
}

on_every_backend!(metadata_is_synced_from_the_source);
