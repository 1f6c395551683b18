//! new-api's remaining video task routes, on SQLite and on MySQL + Redis:
//! `GET /v1/video/generations/{task_id}` answers new-api's `{code, message, data}` with the
//! task's row (while `/v1/videos/{id}` keeps OpenAI's object), and
//! `POST /v1/videos/{video_id}/remix` remixes one of the caller's videos on the channel that
//! made it, with the upstream's id of it, billed like a new task at the origin's seconds;
//! another user's video, an unknown one and a request without a prompt are refused and charge
//! nothing.

use crate::video_tasks::{PER_SECOND, Scene, balances, eventually_balances, scene};
use pylon_tests::fixtures::*;
use pylon_tests::{Backend, on_every_backend};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

async fn call(scene: &Scene, key: &str, post: Option<&str>, path: &str) -> (u16, Value) {
    let client = reqwest::Client::new();
    let url = format!("{}{path}", scene.pylon.base_url);
    let request = match post {
        Some(body) => client
            .post(url)
            .header("content-type", "application/json")
            .body(body.to_string()),
        None => client.get(url),
    };
    let answer = request
        .bearer_auth(key)
        .send()
        .await
        .expect("proxy reachable");
    let status = answer.status().as_u16();
    (status, answer.json().await.expect("JSON answer"))
}

/// Waits until the video `id` reads `status` through OpenAI's route.
async fn eventually_video(scene: &Scene, id: &str, status: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (code, video) = call(scene, &scene.key, None, &format!("/v1/videos/{id}")).await;
        assert_eq!(code, 200, "{video}");
        if video["status"] == json!(status) {
            return video;
        }
        assert!(Instant::now() < deadline, "task {id} stays {video}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn remixes_and_new_api_fetches(backend: Backend) {
    let scene = scene(backend).await;
    let before = balances(&scene).await;
    let body = json!({"model": crate::video_tasks::MODEL, "prompt": "a cat", "seconds": "8"});
    let (status, created) = call(&scene, &scene.key, Some(&body.to_string()), "/v1/videos").await;
    assert_eq!(status, 200, "{created}");
    let id = created["id"].as_str().expect("id").to_string();
    eventually_video(&scene, &id, "completed").await;

    // new-api's fetch route: its own shape, the task's row.
    let (status, fetched) = call(
        &scene,
        &scene.key,
        None,
        &format!("/v1/video/generations/{id}"),
    )
    .await;
    assert_eq!(status, 200, "{fetched}");
    assert_eq!(fetched["code"], json!("success"));
    assert_eq!(fetched["message"], json!(""));
    let row = &fetched["data"];
    assert_eq!(row["task_id"], json!(id));
    assert_eq!(row["status"], json!("SUCCESS"));
    assert_eq!(row["progress"], json!("100%"));
    assert_eq!(row["action"], json!("textGenerate"));
    assert_eq!(row["platform"], json!("1"));
    assert_eq!(row["channel_id"], json!(scene.channel_id));
    assert_eq!(row["quota"], json!(8 * PER_SECOND));
    assert_eq!(row["data"]["id"], json!(id));
    assert!(
        row["result_url"]
            .as_str()
            .unwrap_or_default()
            .ends_with(&format!("/v1/videos/{id}/content")),
        "{row}"
    );
    let (status, missing) = call(
        &scene,
        &scene.key,
        None,
        "/v1/video/generations/task_unknown",
    )
    .await;
    assert_eq!(status, 400, "{missing}");
    assert_eq!(
        missing,
        json!({"code": "task_not_exist", "message": "task_not_exist", "data": null})
    );

    // Bad remixes: refused before any upstream, nothing charged.
    let other = console_with_role(&scene.pylon, &scene.pool, "other-user", 1).await;
    let (_, other_key) = create_key(&other, "other", 0, true).await;
    let remix = format!("/v1/videos/{id}/remix");
    let prompt = json!({"prompt": "make it rain"}).to_string();
    for (key, path, body, code) in [
        (
            &other_key,
            remix.as_str(),
            prompt.as_str(),
            Some("task_not_exist"),
        ),
        (
            &scene.key,
            "/v1/videos/task_unknown/remix",
            prompt.as_str(),
            Some("task_not_exist"),
        ),
        (&scene.key, remix.as_str(), "{}", None),
        (&scene.key, remix.as_str(), "not json", None),
        (&scene.key, remix.as_str(), r#"{"prompt": 3}"#, None),
    ] {
        let (status, error) = call(&scene, key, Some(body), path).await;
        assert_eq!(status, 400, "{path} {body}: {error}");
        assert!(error["error"]["message"].as_str().is_some(), "{error}");
        if let Some(code) = code {
            assert_eq!(error["error"]["code"], json!(code), "{error}");
        }
    }
    // A video whose channel is gone cannot be remixed anywhere else.
    sqlx::query(
        "INSERT INTO tasks (created_at, updated_at, task_id, platform, user_id, channel_id, \
         model, quota, status, fail_reason, submit_time, progress, prompt, data, \
         upstream_task_id) VALUES (0, 0, 'task_channel_gone', '1', 1, 987654, ?, 1, 'SUCCESS', \
         '', 0, '100%', '', '{\"seconds\":\"4\"}', 'video_gone')",
    )
    .bind(crate::video_tasks::MODEL)
    .execute(&scene.pool)
    .await
    .expect("task");
    let (status, error) = call(
        &scene,
        &scene.key,
        Some(&prompt),
        "/v1/videos/task_channel_gone/remix",
    )
    .await;
    assert_eq!(status, 400, "{error}");
    assert_eq!(
        error["error"]["code"],
        json!("task_channel_disable"),
        "{error}"
    );
    assert_eq!(scene.mock.created().len(), 1);
    let charge = 8 * PER_SECOND;
    eventually_balances(&scene, (before.0 - charge, before.1 - charge)).await;

    // A remix: the origin's channel and upstream id, billed at the origin's 8 seconds.
    let (status, remixed) = call(&scene, &scene.key, Some(&prompt), &remix).await;
    assert_eq!(status, 200, "{remixed}");
    let remix_id = remixed["id"].as_str().expect("id").to_string();
    assert!(remix_id.starts_with("task_") && remix_id != id, "{remixed}");
    assert_eq!(remixed["remixed_from_video_id"], json!(id));
    assert_eq!(remixed["status"], json!("queued"));
    let sent = scene.mock.created();
    assert_eq!(sent.len(), 2);
    assert_eq!(sent[1].remix_of.as_deref(), Some(sent[0].id.as_str()));
    let sent_body: Value = serde_json::from_slice(&sent[1].body).expect("JSON sent");
    assert_eq!(sent_body, json!({"prompt": "make it rain"}));
    let charge = charge + 8 * PER_SECOND;
    eventually_balances(&scene, (before.0 - charge, before.1 - charge)).await;
    let (_, remix_row) = call(
        &scene,
        &scene.key,
        None,
        &format!("/v1/video/generations/{remix_id}"),
    )
    .await;
    assert_eq!(remix_row["data"]["action"], json!("remixGenerate"));
    assert_eq!(remix_row["data"]["channel_id"], json!(scene.channel_id));
    eventually_video(&scene, &remix_id, "completed").await;
    assert_eq!(scene.mock.bad_keys(), 0);
    eventually_balances(&scene, (before.0 - charge, before.1 - charge)).await;
}

on_every_backend!(remixes_and_new_api_fetches);
