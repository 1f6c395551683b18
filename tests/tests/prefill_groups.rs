//! new-api's prefill groups (issue 13), on SQLite and on MySQL + Redis, with the control plane
//! served in this process: administrators create, list (by type), replace and delete them;
//! names are unique and bad input is refused without a write.

use pylon_tests::in_process::InProcess;
use pylon_tests::user_admin_fixtures::PASSWORD;
use pylon_tests::{Backend, Console, on_every_backend};
use reqwest::Method;
use serde_json::{Value, json};

async fn put(console: &Console, body: Value) -> pylon_tests::client::Answer {
    console
        .send(Method::PUT, "/api/prefill_group/", Some(body.to_string()))
        .await
}

fn names(answer: &pylon_tests::client::Answer) -> Vec<String> {
    assert!(answer.success(), "{answer:?}");
    answer
        .data()
        .as_array()
        .expect("list")
        .iter()
        .map(|g| g["name"].as_str().expect("name").to_string())
        .collect()
}

async fn prefill_groups_are_managed(backend: Backend) {
    let plane = InProcess::start(backend).await;
    let mut root = Console::new(&plane.base_url);
    root.setup_root("root", PASSWORD).await;
    root.login("root", PASSWORD).await;

    for body in [
        json!({"name": "", "type": "model", "items": []}),
        json!({"name": "a", "type": "", "items": []}),
        json!({"name": "a", "type": "model", "items": "gpt-4o"}),
        json!({"name": "a", "type": "model", "items": [1, 2]}),
        json!({"name": "x".repeat(65), "type": "model", "items": []}),
    ] {
        let answer = root.post("/api/prefill_group/", body.clone()).await;
        assert!(!answer.success(), "{body}: {answer:?}");
    }
    assert!(names(&root.get("/api/prefill_group/").await).is_empty());

    let chat = root
        .post(
            "/api/prefill_group/",
            json!({"name": "chat", "type": "model", "items": ["gpt-4o", "gpt-4o-mini"],
                "description": "Chat models"}),
        )
        .await;
    assert!(chat.success(), "{chat:?}");
    assert_eq!(chat.data()["items"], json!(["gpt-4o", "gpt-4o-mini"]));
    assert_eq!(chat.data()["type"], "model");
    assert_eq!(chat.data()["description"], "Chat models");
    let chat_id = chat.data()["id"].as_i64().expect("id");
    let tags = root
        .post(
            "/api/prefill_group/",
            json!({"name": "tags", "type": "tag", "items": ["fast"]}),
        )
        .await;
    assert!(tags.success(), "{tags:?}");
    assert!(tags.data().get("description").is_none(), "{tags:?}");
    let taken = root
        .post(
            "/api/prefill_group/",
            json!({"name": "chat", "type": "tag", "items": []}),
        )
        .await;
    assert!(!taken.success(), "{taken:?}");

    let mut all = names(&root.get("/api/prefill_group/").await);
    all.sort();
    assert_eq!(all, ["chat", "tags"]);
    assert_eq!(
        names(&root.get("/api/prefill_group/?type=model").await),
        ["chat"]
    );

    let renamed = put(
        &root,
        json!({"id": chat_id, "name": "chat2", "type": "model", "items": ["o3"]}),
    )
    .await;
    assert!(renamed.success(), "{renamed:?}");
    assert_eq!(renamed.data()["items"], json!(["o3"]));
    let clash = put(
        &root,
        json!({"id": chat_id, "name": "tags", "type": "model", "items": []}),
    )
    .await;
    assert!(!clash.success(), "{clash:?}");
    let nobody = put(
        &root,
        json!({"id": 999_999, "name": "zz", "type": "model", "items": []}),
    )
    .await;
    assert!(!nobody.success(), "{nobody:?}");
    let no_id = put(&root, json!({"name": "zz", "type": "model"})).await;
    assert!(!no_id.success(), "{no_id:?}");

    let path = format!("/api/prefill_group/{chat_id}");
    assert!(root.send(Method::DELETE, &path, None).await.success());
    assert!(!root.send(Method::DELETE, &path, None).await.success());
    assert_eq!(names(&root.get("/api/prefill_group/").await), ["tags"]);
}

on_every_backend!(prefill_groups_are_managed);
