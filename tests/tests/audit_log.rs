//! The audit log of administrators' changes (issue 13), on SQLite and on MySQL + Redis, with the
//! control plane served in this process: every non-GET call of an admin or root route is
//! recorded with who, the route and path, when, from where and whether it succeeded; reads are
//! not; root reads the log, newest first, for everyone or one administrator.

use pylon_tests::in_process::InProcess;
use pylon_tests::user_admin_fixtures::PASSWORD;
use pylon_tests::{Backend, Console, on_every_backend};
use reqwest::Method;
use serde_json::json;

async fn administrators_changes_are_audited(backend: Backend) {
    let plane = InProcess::start(backend).await;
    let mut root = Console::new(&plane.base_url);
    root.setup_root("root", PASSWORD).await;
    root.login("root", PASSWORD).await;
    let made = root
        .post(
            "/api/user/",
            json!({"username": "ada", "password": PASSWORD, "display_name": "Ada"}),
        )
        .await;
    assert!(made.success(), "{made:?}");
    let mut ada = Console::new(&plane.base_url);
    ada.login("ada", PASSWORD).await;
    let ada_id = ada.user_id.expect("ada");
    let promoted = root
        .post(
            "/api/user/manage",
            json!({"id": ada_id, "action": "promote"}),
        )
        .await;
    assert!(promoted.success(), "{promoted:?}");

    let created = ada
        .post(
            "/api/announcements",
            json!({"title": "Maintenance", "content": "Tonight"}),
        )
        .await;
    assert!(created.success(), "{created:?}");
    let refused = ada
        .send(
            Method::PUT,
            "/api/announcements/999999",
            Some(json!({"title": "x"}).to_string()),
        )
        .await;
    assert!(!refused.success(), "{refused:?}");
    assert!(ada.get("/api/announcements").await.success(), "a read");

    let log = root.get("/api/audit-log?p=1&page_size=10").await;
    assert!(log.success(), "{log:?}");
    let items = log.data()["items"].as_array().unwrap().clone();
    // Newest first: ada's refused update, ada's announcement, root's promotion and creation.
    assert_eq!(log.data()["total"], 4, "{items:?}");
    assert_eq!(items[0]["route"], "/api/announcements/{id}");
    assert_eq!(items[0]["path"], "/api/announcements/999999");
    assert_eq!(items[0]["method"], "PUT");
    assert_eq!(items[0]["success"], 0);
    assert_eq!(items[0]["username"], "ada");
    assert_eq!(items[1]["route"], "/api/announcements");
    assert_eq!(items[1]["success"], 1);
    assert_eq!(items[1]["user_id"], ada_id);
    assert_eq!(items[2]["route"], "/api/user/manage");
    assert_eq!(items[3]["route"], "/api/user/");
    assert!(items.iter().all(|i| i["created_at"].as_i64().unwrap() > 0));
    assert!(items.iter().all(|i| !i["ip"].as_str().unwrap().is_empty()));

    let only_ada = root.get(&format!("/api/audit-log?user_id={ada_id}")).await;
    assert_eq!(only_ada.data()["total"], 2);
    // Reading the log is not a change.
    assert_eq!(root.get("/api/audit-log").await.data()["total"], 4);
    assert!(!ada.get("/api/audit-log").await.success(), "root only");
}
on_every_backend!(administrators_changes_are_audited);
