//! The console's status and model routes new-api serves, on SQLite and on MySQL + Redis, with
//! the control plane served in this process: `GET /api/uptime/status` (the public status
//! monitors in new-api's Uptime Kuma shape), `GET /api/status/test` (administrators: the
//! database answers, requests in flight) and `GET /api/models` (signed-in users: the models
//! per channel type), which new-api routes apart from the administrators' `GET /api/models/`.

use pylon_tests::canned_upstream::{Canned, CannedUpstream};
use pylon_tests::fixtures::create_channel;
use pylon_tests::in_process::InProcess;
use pylon_tests::user_admin_fixtures::{INSUFFICIENT, PASSWORD, create_user};
use pylon_tests::{Backend, Console, on_every_backend};
use reqwest::StatusCode;
use serde_json::{Value, json};

/// An address nothing listens on.
fn closed_address() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let address = listener.local_addr().expect("addr");
    drop(listener);
    format!("http://{address}/health")
}

async fn create_monitor(root: &Console, monitor: Value) -> i64 {
    let answer = root.post("/api/status-monitors", monitor).await;
    assert!(answer.success(), "{answer:?}");
    answer.data()["id"].as_i64().expect("id")
}

async fn check_now(root: &Console, id: i64) {
    let answer = root
        .post(&format!("/api/status-monitors/{id}/check"), json!({}))
        .await;
    assert!(answer.success(), "{answer:?}");
}

/// The control plane with its monitor clock idle after its first tick (checks run on demand).
async fn start(backend: Backend) -> (InProcess, Console) {
    let settings = vec![(
        "PYLON__CONTROL_PLANE__MONITOR_TICK_SECS".to_string(),
        "3600".to_string(),
    )];
    let plane = InProcess::start_with(backend, settings).await;
    let mut root = Console::new(&plane.base_url);
    root.setup_root("root", PASSWORD).await;
    root.login("root", PASSWORD).await;
    (plane, root)
}

async fn logged_in(base_url: &str, username: &str) -> Console {
    let mut console = Console::new(base_url);
    console.login(username, PASSWORD).await;
    console
}

async fn uptime_status_and_status_test(backend: Backend) {
    let (plane, root) = start(backend).await;
    let anonymous = Console::new(&plane.base_url);

    // No monitors: an empty list, as new-api answers without Uptime Kuma groups.
    let empty = anonymous.get("/api/uptime/status").await;
    assert!(empty.success(), "{empty:?}");
    assert_eq!(empty.data(), &json!([]));

    let site = CannedUpstream::start(|_, _| Canned::json(&json!({"ok": true}))).await;
    let up = create_monitor(
        &root,
        json!({"name": "Website", "kind": "http", "target": format!("{}/ping", site.base_url),
            "sort_order": 1}),
    )
    .await;
    let down = create_monitor(
        &root,
        json!({"name": "Old site", "kind": "http", "target": closed_address(),
            "timeout_secs": 2, "sort_order": 2}),
    )
    .await;
    create_monitor(
        &root,
        json!({"name": "Main channel", "kind": "channel", "target": "7", "sort_order": 3}),
    )
    .await;
    create_monitor(
        &root,
        json!({"name": "Internal", "kind": "http", "target": format!("{}/ping", site.base_url),
            "public": false, "sort_order": 4}),
    )
    .await;
    check_now(&root, up).await;
    check_now(&root, down).await;
    let received = site.received();
    assert_eq!(received.len(), 1, "one check of the public site");
    assert_eq!(received[0].uri, "/ping");

    let status = anonymous.get("/api/uptime/status").await;
    assert!(status.success(), "{status:?}");
    assert_eq!(
        status.data(),
        &json!([
            {"categoryName": "Services", "monitors": [
                {"name": "Website", "uptime": 1.0, "status": 1, "group": "Services"},
                {"name": "Old site", "uptime": 0.0, "status": 0, "group": "Services"},
            ]},
            {"categoryName": "Channels", "monitors": [
                {"name": "Main channel", "uptime": 0.0, "status": 2, "group": "Channels"},
            ]},
        ])
    );
    // Half of the site's checks up.
    let broken = root
        .send(
            reqwest::Method::PUT,
            &format!("/api/status-monitors/{up}"),
            Some(
                json!({"name": "Website", "kind": "http", "target": closed_address(),
                    "timeout_secs": 2, "sort_order": 1})
                .to_string(),
            ),
        )
        .await;
    assert!(broken.success(), "{broken:?}");
    check_now(&root, up).await;
    let status = anonymous.get("/api/uptime/status").await;
    assert_eq!(status.data()[0]["monitors"][0]["uptime"], json!(0.5));
    assert_eq!(status.data()[0]["monitors"][0]["status"], json!(0));

    // The status test: administrators only.
    create_user(&root, "alice", 1).await;
    create_user(&root, "admin1", 10).await;
    let alice = logged_in(&plane.base_url, "alice").await;
    let admin = logged_in(&plane.base_url, "admin1").await;
    let test = admin.get("/api/status/test").await;
    assert_eq!(test.status, StatusCode::OK, "{test:?}");
    assert!(test.success(), "{test:?}");
    assert_eq!(test.message(), "Server is running");
    // This request itself is in flight while it is answered.
    assert!(
        test.body["http_stats"]["active_connections"]
            .as_i64()
            .unwrap()
            >= 1,
        "{test:?}"
    );
    let refused = alice.get("/api/status/test").await;
    assert!(!refused.success(), "{refused:?}");
    assert_eq!(refused.message(), INSUFFICIENT);
    assert!(refused.body.get("http_stats").is_none());
    assert_eq!(
        anonymous.get("/api/status/test").await.status,
        StatusCode::UNAUTHORIZED
    );
}
on_every_backend!(uptime_status_and_status_test);

async fn models_per_channel_type_and_model_meta(backend: Backend) {
    let (plane, root) = start(backend).await;
    create_user(&root, "alice", 1).await;
    let alice = logged_in(&plane.base_url, "alice").await;
    let anonymous = Console::new(&plane.base_url);

    let none = alice.get("/api/models").await;
    assert!(none.success(), "{none:?}");
    assert_eq!(none.data(), &json!({}));

    for (kind, name, models) in [
        (1, "openai-a", "gpt-4o,gpt-4o-mini"),
        (1, "openai-b", "gpt-4o, o3"),
        (14, "claude", "claude-sonnet-4"),
    ] {
        create_channel(
            &root,
            json!({"type": kind, "name": name, "key": "k", "base_url": "http://127.0.0.1:9",
                "models": models, "group": "default", "priority": 0, "weight": 0}),
        )
        .await;
    }
    let listed = alice.get("/api/models").await;
    assert!(listed.success(), "{listed:?}");
    assert_eq!(
        listed.data(),
        &json!({"1": ["gpt-4o", "gpt-4o-mini", "o3"], "14": ["claude-sonnet-4"]})
    );
    assert_eq!(root.get("/api/models").await.data(), listed.data());
    assert_eq!(
        anonymous.get("/api/models").await.status,
        StatusCode::UNAUTHORIZED
    );

    // With the slash: the administrators' model meta, refused to a common user.
    let meta = alice.get("/api/models/").await;
    assert!(!meta.success(), "{meta:?}");
    assert_eq!(meta.message(), INSUFFICIENT);
    let meta = alice.get("/api/models/?p=1&page_size=10").await;
    assert_eq!(meta.message(), INSUFFICIENT);
    let page = root.get("/api/models/?p=1&page_size=10").await;
    assert!(page.success(), "{page:?}");
    assert!(page.data()["items"].is_array(), "{page:?}");
    // Other methods are served with or without the slash, as before.
    let created = root
        .post("/api/models", json!({"model_name": "gpt-4o"}))
        .await;
    assert!(created.success(), "{created:?}");
    let page = root.get("/api/models/?p=1&page_size=10").await;
    assert_eq!(page.data()["items"][0]["model_name"], json!("gpt-4o"));
    let refused = alice.post("/api/models", json!({"model_name": "o3"})).await;
    assert_eq!(refused.message(), INSUFFICIENT);
    let page = root.get("/api/models/?p=1&page_size=10").await;
    assert_eq!(page.data()["total"], json!(1), "{page:?}");
}
on_every_backend!(models_per_channel_type_and_model_meta);
