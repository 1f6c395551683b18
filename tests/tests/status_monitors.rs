//! Status monitors (issue 13, seed 001), on SQLite and on MySQL + Redis, with the control plane
//! served in this process: administrators manage HTTP and channel monitors, the clock checks a
//! new monitor at once, a check can be run on demand, and `GET /api/public/status` shows the
//! public monitors with their uptime and an overall status.

use pylon_tests::canned_upstream::{Canned, CannedUpstream};
use pylon_tests::fixtures::{create_channel, openai_channel};
use pylon_tests::in_process::InProcess;
use pylon_tests::user_admin_fixtures::PASSWORD;
use pylon_tests::{Backend, Console, on_every_backend};
use reqwest::Method;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

fn chat() -> Canned {
    Canned::json(
        &json!({"id": "chatcmpl-1", "object": "chat.completion", "created": 1,
        "model": "gpt-watch", "choices": [{"index": 0, "finish_reason": "stop",
            "message": {"role": "assistant", "content": "Hi"}}],
        "usage": {"prompt_tokens": 5, "completion_tokens": 1, "total_tokens": 6}}),
    )
}

/// An address nothing listens on.
fn closed_address() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let address = listener.local_addr().expect("addr");
    drop(listener);
    format!("http://{address}/health")
}

async fn create(root: &Console, monitor: Value) -> i64 {
    let answer = root.post("/api/status-monitors", monitor).await;
    assert!(answer.success(), "{answer:?}");
    answer.data()["id"].as_i64().expect("id")
}

async fn monitors_are_checked_and_shown(backend: Backend) {
    let upstream = CannedUpstream::start(|_, _| chat()).await;
    let settings = vec![(
        "PYLON__CONTROL_PLANE__MONITOR_TICK_SECS".to_string(),
        "1".to_string(),
    )];
    let plane = InProcess::start_with(backend, settings).await;
    let mut root = Console::new(&plane.base_url);
    root.setup_root("root", PASSWORD).await;
    root.login("root", PASSWORD).await;
    let channel = create_channel(
        &root,
        openai_channel("watched", &upstream.base_url, "gpt-watch"),
    )
    .await;

    for (monitor, reason) in [
        (
            json!({"name": "", "kind": "http", "target": "http://x"}),
            "name",
        ),
        (
            json!({"name": "a", "kind": "ftp", "target": "http://x"}),
            "kind",
        ),
        (
            json!({"name": "a", "kind": "http", "target": "not a url"}),
            "target",
        ),
        (
            json!({"name": "a", "kind": "channel", "target": "x"}),
            "target",
        ),
        (
            json!({"name": "a", "kind": "http", "target": "http://x", "interval_secs": 5}),
            "interval",
        ),
        (
            json!({"name": "a", "kind": "http", "target": "http://x", "timeout_secs": 0}),
            "timeout",
        ),
    ] {
        let answer = root.post("/api/status-monitors", monitor.clone()).await;
        assert!(!answer.success(), "{monitor}: {answer:?}");
        assert!(
            answer.body["message"].as_str().unwrap().contains(reason),
            "{answer:?}"
        );
    }
    let malformed = root.post_raw("/api/status-monitors", "{\"name\": 1").await;
    assert!(!malformed.success(), "{malformed:?}");
    assert_eq!(
        root.get("/api/status-monitors").await.data(),
        &json!([]),
        "nothing stored"
    );

    let site = create(
        &root,
        json!({"name": "Site", "kind": "http", "target": format!("{}/health", upstream.base_url),
            "sort_order": 1}),
    )
    .await;
    let gone = create(
        &root,
        json!({"name": "Gone", "kind": "http", "target": closed_address(), "timeout_secs": 2,
            "sort_order": 2}),
    )
    .await;
    let chat_channel = create(
        &root,
        json!({"name": "Chat", "kind": "channel", "target": channel.to_string(), "sort_order": 3}),
    )
    .await;
    let missing = create(
        &root,
        json!({"name": "Missing", "kind": "channel", "target": "999999", "sort_order": 4}),
    )
    .await;
    create(
        &root,
        json!({"name": "Private", "kind": "http", "target": format!("{}/x", upstream.base_url),
            "public": false}),
    )
    .await;

    // The clock checks each new monitor at once.
    let deadline = Instant::now() + Duration::from_secs(15);
    let listed = loop {
        let listed = root.get("/api/status-monitors").await;
        let rows = listed.data().as_array().unwrap().clone();
        if rows
            .iter()
            .all(|m| m["last_checked_at"].as_i64().unwrap() > 0)
        {
            break rows;
        }
        assert!(Instant::now() < deadline, "never checked: {rows:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let status_of = |id: i64| {
        listed.iter().find(|m| m["id"] == id).unwrap()["last_status"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(status_of(site), "up");
    assert_eq!(status_of(gone), "down");
    assert_eq!(status_of(chat_channel), "up");
    assert_eq!(status_of(missing), "down");
    assert!(
        upstream
            .received()
            .iter()
            .any(|r| r.uri.ends_with("/v1/chat/completions")),
        "the channel monitor sent a chat request"
    );

    // Anyone sees the public monitors; one down of four is degraded.
    let public = Console::new(&plane.base_url)
        .get("/api/public/status")
        .await;
    assert!(public.success(), "{public:?}");
    assert_eq!(public.data()["status"], "degraded");
    let shown = public.data()["monitors"].as_array().unwrap();
    let names: Vec<&str> = shown.iter().map(|m| m["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["Site", "Gone", "Chat", "Missing"]);
    assert_eq!(shown[0]["uptime_24h"], json!(100.0));
    assert_eq!(shown[1]["uptime_24h"], json!(0.0));
    assert_eq!(shown[1]["recent"][0]["up"], false);

    // Repointed and checked now: up; its uptime counts both checks.
    let moved = root
        .send(
            Method::PUT,
            &format!("/api/status-monitors/{gone}"),
            Some(
                json!({"name": "Gone", "kind": "http", "sort_order": 2,
                    "target": format!("{}/health", upstream.base_url)})
                .to_string(),
            ),
        )
        .await;
    assert!(moved.success(), "{moved:?}");
    let checked = root
        .post(&format!("/api/status-monitors/{gone}/check"), json!({}))
        .await;
    assert_eq!(checked.data()["last_status"], "up", "{checked:?}");
    let deleted = root
        .send(
            Method::DELETE,
            &format!("/api/status-monitors/{missing}"),
            None,
        )
        .await;
    assert!(deleted.success(), "{deleted:?}");
    let again = root
        .send(
            Method::DELETE,
            &format!("/api/status-monitors/{missing}"),
            None,
        )
        .await;
    assert!(!again.success(), "{again:?}");
    let public = Console::new(&plane.base_url)
        .get("/api/public/status")
        .await;
    assert_eq!(public.data()["status"], "operational", "{public:?}");
    let gone_shown = &public.data()["monitors"][1];
    assert_eq!(gone_shown["uptime_24h"], json!(50.0));
    assert_eq!(gone_shown["recent"].as_array().unwrap().len(), 2);
}
on_every_backend!(monitors_are_checked_and_shown);
