//! new-api's channel operation helpers (issue 13), on SQLite and on MySQL + Redis, with the
//! control plane served in this process: `/api/channel/ops` shows the retry setting, channels
//! are switched off and on by hand, one or a batch, refusing other statuses, managed by tag,
//! repaired and copied.

use pylon_tests::fixtures::{create_channel, openai_channel, set_option};
use pylon_tests::in_process::InProcess;
use pylon_tests::user_admin_fixtures::PASSWORD;
use pylon_tests::{Backend, Console, on_every_backend};
use serde_json::json;

async fn status_of(root: &Console, id: i64) -> i64 {
    let answer = root.get(&format!("/api/channel/{id}")).await;
    assert!(answer.success(), "{answer:?}");
    answer.data()["status"].as_i64().expect("status")
}

async fn channels_are_switched_by_hand(backend: Backend) {
    let plane = InProcess::start(backend).await;
    let mut root = Console::new(&plane.base_url);
    root.setup_root("root", PASSWORD).await;
    root.login("root", PASSWORD).await;

    assert_eq!(
        root.get("/api/channel/ops").await.data(),
        &json!({"retry_times": 0})
    );
    set_option(&root, "RetryTimes", "3").await;
    assert_eq!(
        root.get("/api/channel/ops").await.data(),
        &json!({"retry_times": 3})
    );

    let a = create_channel(&root, openai_channel("a", "http://127.0.0.1:9", "m-a")).await;
    let b = create_channel(&root, openai_channel("b", "http://127.0.0.1:9", "m-b")).await;
    assert_eq!(status_of(&root, a).await, 1);

    for status in [0, 3, 7] {
        let refused = root
            .post(
                &format!("/api/channel/{a}/status"),
                json!({"status": status}),
            )
            .await;
        assert!(!refused.success(), "{status}: {refused:?}");
    }
    assert_eq!(
        status_of(&root, a).await,
        1,
        "a refused switch changes nothing"
    );

    let off = root
        .post(&format!("/api/channel/{a}/status"), json!({"status": 2}))
        .await;
    assert!(off.success(), "{off:?}");
    assert_eq!(status_of(&root, a).await, 2);
    let missing = root
        .post("/api/channel/999999/status", json!({"status": 2}))
        .await;
    assert!(!missing.success(), "{missing:?}");

    let batch = root
        .post(
            "/api/channel/status/batch",
            json!({"ids": [a, b, 999_999], "status": 2}),
        )
        .await;
    assert!(batch.success(), "{batch:?}");
    assert_eq!(batch.data(), &json!(2), "the two that exist");
    assert_eq!(status_of(&root, b).await, 2);
    let on = root
        .post(
            "/api/channel/status/batch",
            json!({"ids": [a, b], "status": 1}),
        )
        .await;
    assert!(on.success(), "{on:?}");
    assert_eq!(status_of(&root, a).await, 1);
    assert_eq!(status_of(&root, b).await, 1);
    let empty = root
        .post("/api/channel/status/batch", json!({"ids": [], "status": 1}))
        .await;
    assert!(!empty.success(), "{empty:?}");
}

on_every_backend!(channels_are_switched_by_hand);

async fn channels_are_managed_by_tag(backend: Backend) {
    let plane = InProcess::start(backend).await;
    let mut root = Console::new(&plane.base_url);
    root.setup_root("root", PASSWORD).await;
    root.login("root", PASSWORD).await;
    let a = create_channel(&root, openai_channel("a", "http://127.0.0.1:9", "m-a")).await;
    let b = create_channel(&root, openai_channel("b", "http://127.0.0.1:9", "m-a,m-b")).await;
    let c = create_channel(&root, openai_channel("c", "http://127.0.0.1:9", "m-c")).await;

    let missing = root
        .post("/api/channel/batch/tag", json!({"ids": [a]}))
        .await;
    assert!(!missing.success(), "{missing:?}");
    let tagged = root
        .post(
            "/api/channel/batch/tag",
            json!({"ids": [a, b, 999_999], "tag": "fleet"}),
        )
        .await;
    assert!(tagged.success(), "{tagged:?}");
    assert_eq!(tagged.data(), &json!(2));
    let tag_of = |id: i64| {
        let root = &root;
        async move {
            root.get(&format!("/api/channel/{id}")).await.data()["tag"]
                .as_str()
                .expect("tag")
                .to_string()
        }
    };
    assert_eq!(tag_of(a).await, "fleet");
    assert_eq!(tag_of(c).await, "");
    assert_eq!(
        root.get("/api/channel/tag/models?tag=fleet").await.data(),
        &json!("m-a,m-b"),
        "the tagged channel with the most models"
    );
    let no_tag = root.get("/api/channel/tag/models").await;
    assert!(!no_tag.success(), "{no_tag:?}");

    let off = root
        .post("/api/channel/tag/disabled", json!({"tag": "fleet"}))
        .await;
    assert!(off.success(), "{off:?}");
    assert_eq!(status_of(&root, a).await, 2);
    assert_eq!(status_of(&root, b).await, 2);
    assert_eq!(status_of(&root, c).await, 1, "untagged stays on");
    let on = root
        .post("/api/channel/tag/enabled", json!({"tag": "fleet"}))
        .await;
    assert!(on.success(), "{on:?}");
    assert_eq!(status_of(&root, a).await, 1);

    let fixed = root.post("/api/channel/fix", json!({})).await;
    assert!(fixed.success(), "{fixed:?}");
    assert_eq!(fixed.data(), &json!({"success": 3, "fails": 0}));
    // A copy keeps the fields, takes a suffix, and routes on its own.
    let copied = root
        .post(&format!("/api/channel/copy/{b}?suffix=-2"), json!({}))
        .await;
    assert!(copied.success(), "{copied:?}");
    let copy = copied.data()["id"].as_i64().expect("id");
    assert_ne!(copy, b);
    let copy_row = root.get(&format!("/api/channel/{copy}")).await;
    assert_eq!(copy_row.data()["name"], "b-2", "{copy_row:?}");
    assert_eq!(copy_row.data()["models"], "m-a,m-b");
    assert_eq!(copy_row.data()["tag"], "fleet");
    let default_name = root
        .post(&format!("/api/channel/copy/{a}"), json!({}))
        .await;
    let default_id = default_name.data()["id"].as_i64().expect("id");
    assert_eq!(
        root.get(&format!("/api/channel/{default_id}")).await.data()["name"],
        "a_复制"
    );
    let nothing = root.post("/api/channel/copy/999999", json!({})).await;
    assert!(!nothing.success(), "{nothing:?}");

    let cleared = root
        .post("/api/channel/batch/tag", json!({"ids": [a], "tag": ""}))
        .await;
    assert!(cleared.success(), "{cleared:?}");
    assert_eq!(tag_of(a).await, "");
}

on_every_backend!(channels_are_managed_by_tag);
