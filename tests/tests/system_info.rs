//! new-api's system information routes (issue 13), on SQLite and on MySQL + Redis, with the
//! control plane served in this process: root sees the answering instance, online, with its
//! start time and backends, and an empty list of system tasks.

use pylon_tests::in_process::InProcess;
use pylon_tests::user_admin_fixtures::PASSWORD;
use pylon_tests::{Backend, Console, on_every_backend};
use serde_json::json;

async fn root_sees_the_instance(backend: Backend) {
    let plane = InProcess::start(backend).await;
    let mut root = Console::new(&plane.base_url);
    root.setup_root("root", PASSWORD).await;
    root.login("root", PASSWORD).await;

    let answer = root.get("/api/system-info/instances").await;
    assert!(answer.success(), "{answer:?}");
    let items = answer.data().as_array().expect("instances");
    assert_eq!(items.len(), 1, "{answer:?}");
    let me = &items[0];
    assert_eq!(me["status"], "online");
    assert!(me["node_name"].as_str().is_some_and(|n| !n.is_empty()));
    let started = me["started_at"].as_i64().expect("started_at");
    let seen = me["last_seen_at"].as_i64().expect("last_seen_at");
    assert!(started > 0 && started <= seen, "{me}");
    let database = match backend {
        Backend::Sqlite => "sqlite",
        Backend::MySqlRedis => "mysql",
    };
    assert_eq!(me["info"]["database_type"], database, "{me}");

    let tasks = root.get("/api/system-task/list?limit=10").await;
    assert!(tasks.success(), "{tasks:?}");
    assert_eq!(tasks.data(), &json!([]));
}

on_every_backend!(root_sees_the_instance);
