//! new-api's asynchronous video tasks end to end, on SQLite and on MySQL + Redis: OpenAI's
//! `POST /v1/videos` (JSON, and a form through new-api's alias `/v1/video/generations`) is
//! relayed to a channel with its key and mapped model, charged once at `ModelPrice` per second
//! when the upstream accepts, and answered with Pylon's own task id; the poller follows the
//! upstream id to completion, `GET /v1/videos/{id}` reads the task, `/content` streams the
//! video; a failed task is refunded exactly once even when its failure is seen twice; a
//! refused submit charges nothing; another user's task is 404 (new-api's `task_not_exist` on
//! new-api's own fetch route); `/api/task/self` and
//! `/api/task/` list tasks with new-api's filters and admin-only fields.

use pylon_tests::fixtures::*;
use pylon_tests::video_upstream::{VIDEO_KEY, VideoUpstream};
use pylon_tests::{Backend, Console, Pylon, on_every_backend};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

pub const MODEL: &str = "sora-test";
/// The name the channel maps [`MODEL`] to.
const UPSTREAM_MODEL: &str = "sora-2-up";
/// `ModelPrice` 0.1 USD x 500 000 quota per USD, per second of video.
pub const PER_SECOND: i64 = 50_000;

pub struct Scene {
    pub pylon: Pylon,
    pub root: Console,
    pub pool: sqlx::AnyPool,
    pub mock: VideoUpstream,
    pub key: String,
    pub key_id: i64,
    pub channel_id: i64,
}

/// A Pylon polling tasks every 100 ms, a priced video model on one channel of the mock, root
/// with quota and a limited key.
pub async fn scene(backend: Backend) -> Scene {
    let mock = VideoUpstream::start().await;
    let pylon = Pylon::builder(backend)
        .env("PYLON__CONTROL_PLANE__TASK_POLL_MS", "100")
        .start()
        .await;
    let root = root_console(&pylon).await;
    let pool = database(&pylon).await;
    set_option(&root, "ModelPrice", &json!({ MODEL: 0.1 }).to_string()).await;
    let channel = json!({"type": 1, "name": "videos", "key": VIDEO_KEY, "base_url": mock.base_url,
        "models": MODEL, "group": "default", "priority": 0, "weight": 0,
        "model_mapping": json!({ MODEL: UPSTREAM_MODEL }).to_string()});
    let channel_id = create_channel(&root, channel).await;
    let added = root
        .post(
            "/api/user/manage",
            json!({"id": 1, "action": "add_quota", "mode": "add", "value": 10_000_000}),
        )
        .await;
    assert!(added.success(), "{added:?}");
    let (key_id, key) = create_key(&root, "videos", 5_000_000, false).await;
    wait_until_routable(&pylon, &key, MODEL).await;
    Scene {
        pylon,
        root,
        pool,
        mock,
        key,
        key_id,
        channel_id,
    }
}

pub async fn balances(scene: &Scene) -> (i64, i64) {
    (
        scalar_of(&scene.pool, "SELECT quota FROM users WHERE id = ?", 1).await,
        scalar_of(
            &scene.pool,
            "SELECT remain_quota FROM tokens WHERE id = ?",
            scene.key_id,
        )
        .await,
    )
}

/// Waits until the user's and the key's stored balances are `expected`.
pub async fn eventually_balances(scene: &Scene, expected: (i64, i64)) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let now = balances(scene).await;
        if now == expected {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "balances {now:?}, expected {expected:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn submit(scene: &Scene, key: &str, body: Value) -> (u16, Value) {
    let answer = reqwest::Client::new()
        .post(format!("{}/v1/videos", scene.pylon.base_url))
        .bearer_auth(key)
        .json(&body)
        .send()
        .await
        .expect("proxy reachable");
    let status = answer.status().as_u16();
    (status, answer.json().await.expect("JSON answer"))
}

async fn retrieve(scene: &Scene, key: &str, path: &str) -> (u16, Value) {
    let answer = reqwest::Client::new()
        .get(format!("{}{path}", scene.pylon.base_url))
        .bearer_auth(key)
        .send()
        .await
        .expect("proxy reachable");
    let status = answer.status().as_u16();
    (status, answer.json().await.expect("JSON answer"))
}

/// Waits until the task `id` reads `status` for `key`.
async fn eventually_status(scene: &Scene, id: &str, status: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (code, video) = retrieve(scene, &scene.key, &format!("/v1/videos/{id}")).await;
        assert_eq!(code, 200, "{video}");
        if video["status"] == json!(status) {
            return video;
        }
        assert!(Instant::now() < deadline, "task {id} stays {video}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn text_of(pool: &sqlx::AnyPool, sql: &str, task_id: &str) -> String {
    sqlx::query_scalar::<_, String>(sqlx::AssertSqlSafe(sql.to_string()))
        .bind(task_id)
        .fetch_one(pool)
        .await
        .expect(sql)
}

async fn count_of(pool: &sqlx::AnyPool, sql: &str, text: &str) -> i64 {
    sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(sql.to_string()))
        .bind(text)
        .fetch_one(pool)
        .await
        .expect(sql)
}

async fn a_video_task_is_charged_polled_and_streamed(backend: Backend) {
    let scene = scene(backend).await;
    let before = balances(&scene).await;
    let (status, created) = submit(
        &scene,
        &scene.key,
        json!({"model": MODEL, "prompt": "a cat on a boat", "seconds": "8", "size": "720x1280"}),
    )
    .await;
    assert_eq!(status, 200, "{created}");
    let id = created["id"].as_str().expect("task id").to_string();
    assert!(id.starts_with("task_") && id.len() == 37, "{id}");
    assert_eq!(created["model"], json!(MODEL));
    assert_eq!(created["status"], json!("queued"));
    // The upstream got the channel's key and model; the client never sees the upstream's id.
    let sent = scene.mock.created();
    assert_eq!(sent.len(), 1);
    let body: Value = serde_json::from_slice(&sent[0].body).expect("JSON sent");
    assert_eq!(body["model"], json!(UPSTREAM_MODEL));
    assert_eq!(body["prompt"], json!("a cat on a boat"));
    assert_ne!(id, sent[0].id);
    let upstream_id = text_of(
        &scene.pool,
        "SELECT upstream_task_id FROM tasks WHERE task_id = ?",
        &id,
    )
    .await;
    assert_eq!(upstream_id, sent[0].id);

    // Charged once, 8 seconds at the model's price, with one log row.
    let charge = 8 * PER_SECOND;
    eventually_balances(&scene, (before.0 - charge, before.1 - charge)).await;
    assert_eq!(
        count_of(
            &scene.pool,
            "SELECT COUNT(*) FROM logs WHERE type = 2 AND model_name = ? AND quota = 400000",
            MODEL
        )
        .await,
        1
    );

    // The poller follows the upstream id to completion.
    let done = eventually_status(&scene, &id, "completed").await;
    assert_eq!(done["id"], json!(id));
    assert_eq!(done["object"], json!("video"));
    assert_eq!(done["progress"], json!(100));
    assert!(done["completed_at"].as_i64().is_some(), "{done}");
    assert!(scene.mock.polls(&upstream_id) >= 2);
    let row_status = text_of(
        &scene.pool,
        "SELECT status FROM tasks WHERE task_id = ?",
        &id,
    )
    .await;
    assert_eq!(row_status, "SUCCESS");
    // new-api's alias reads the same task in new-api's shape: `{code, message, data}`.
    let (code, alias) = retrieve(&scene, &scene.key, &format!("/v1/video/generations/{id}")).await;
    assert_eq!((code, &alias["code"]), (200, &json!("success")), "{alias}");
    assert_eq!(alias["data"]["task_id"], json!(id));
    assert_eq!(alias["data"]["status"], json!("SUCCESS"));

    // The video streams through whole, from the channel, with its key.
    let video = reqwest::Client::new()
        .get(format!("{}/v1/videos/{id}/content", scene.pylon.base_url))
        .bearer_auth(&scene.key)
        .send()
        .await
        .expect("proxy reachable");
    assert_eq!(video.status(), 200);
    assert_eq!(
        video
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("video/mp4")
    );
    let bytes = video.bytes().await.expect("video");
    assert!(
        bytes == scene.mock.content(),
        "the video arrived altered ({} bytes)",
        bytes.len()
    );

    // Another user's key sees no such task; an unknown id neither.
    let other = console_with_role(&scene.pylon, &scene.pool, "other-user", 1).await;
    let (_, other_key) = create_key(&other, "other", 0, true).await;
    for path in [
        format!("/v1/videos/{id}"),
        format!("/v1/videos/{id}/content"),
        "/v1/videos/task_unknown".to_string(),
    ] {
        let key = if path.contains("unknown") {
            &scene.key
        } else {
            &other_key
        };
        let (code, error) = retrieve(&scene, key, &path).await;
        assert_eq!(code, 404, "{path}: {error}");
        assert!(error["error"]["message"].as_str().is_some(), "{error}");
    }
    assert_eq!(scene.mock.bad_keys(), 0);
    // Nothing else moved money.
    eventually_balances(&scene, (before.0 - charge, before.1 - charge)).await;
}

on_every_backend!(a_video_task_is_charged_polled_and_streamed);

async fn failures_refund_once_and_refusals_charge_nothing(backend: Backend) {
    let scene = scene(backend).await;
    let before = balances(&scene).await;

    // A refusal: the upstream's status and message, nothing charged, no task.
    let (status, refused) = submit(
        &scene,
        &scene.key,
        json!({"model": MODEL, "prompt": "please refuse this", "seconds": "4"}),
    )
    .await;
    assert_eq!(status, 400, "{refused}");
    let message = refused["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("refused upstream"), "{refused}");
    eventually_equals(
        &scene.pool,
        "SELECT COUNT(*) FROM logs WHERE type = 5 AND model_name = 'sora-test' AND quota = 0",
        1,
    )
    .await;
    assert_eq!(scalar(&scene.pool, "SELECT COUNT(*) FROM tasks").await, 0);
    assert_eq!(balances(&scene).await, before);

    // Bad input changes nothing and reaches no upstream.
    for body in [
        json!({"model": MODEL}),
        json!({"model": MODEL, "prompt": "x", "seconds": "0"}),
        json!({"prompt": "x"}),
    ] {
        let (status, error) = submit(&scene, &scene.key, body).await;
        assert_eq!(status, 400, "{error}");
    }
    assert_eq!(scene.mock.created().len(), 0);

    // A task that fails upstream is refunded, once.
    let (status, created) = submit(
        &scene,
        &scene.key,
        json!({"model": MODEL, "prompt": "this one will fail", "seconds": "12"}),
    )
    .await;
    assert_eq!(status, 200, "{created}");
    let id = created["id"].as_str().expect("id").to_string();
    let failed = eventually_status(&scene, &id, "failed").await;
    assert_eq!(
        failed["error"]["message"],
        json!("The video was blocked by moderation")
    );
    eventually_balances(&scene, before).await;
    let refunds = "SELECT COUNT(*) FROM logs WHERE type = 6 AND quota = 600000 AND content LIKE ?";
    assert_eq!(count_of(&scene.pool, refunds, &format!("%{id}%")).await, 1);

    // A stale poll sees the failure again: the task fails again, no money moves.
    let upstream_id = text_of(
        &scene.pool,
        "SELECT upstream_task_id FROM tasks WHERE task_id = ?",
        &id,
    )
    .await;
    let polls = scene.mock.polls(&upstream_id);
    sqlx::query("UPDATE tasks SET status = 'IN_PROGRESS' WHERE task_id = ?")
        .bind(&id)
        .execute(&scene.pool)
        .await
        .expect("reopen");
    let deadline = Instant::now() + Duration::from_secs(10);
    while text_of(
        &scene.pool,
        "SELECT status FROM tasks WHERE task_id = ?",
        &id,
    )
    .await
        != "FAILURE"
    {
        assert!(
            Instant::now() < deadline,
            "the reopened task was never polled"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(scene.mock.polls(&upstream_id) > polls);
    assert_eq!(count_of(&scene.pool, refunds, &format!("%{id}%")).await, 1);
    let movements = "SELECT COUNT(*) FROM ledger_movements WHERE idempotency_key = ?";
    assert_eq!(
        count_of(&scene.pool, movements, &format!("task_refund:{id}")).await,
        1
    );
    assert_eq!(balances(&scene).await, before);

    // A task whose channel was deleted fails and is refunded (its wallet payer only).
    sqlx::query(
        "INSERT INTO tasks (created_at, updated_at, task_id, user_id, channel_id, quota, status, \
         fail_reason, submit_time, progress, prompt, data, upstream_task_id) \
         VALUES (0, 0, 'task_orphan', 1, 987654, 1000, 'IN_PROGRESS', '', ?, '10%', '', '{}', 'x')",
    )
    .bind(chrono::Utc::now().timestamp())
    .execute(&scene.pool)
    .await
    .expect("orphan task");
    let deadline = Instant::now() + Duration::from_secs(10);
    while text_of(
        &scene.pool,
        "SELECT status FROM tasks WHERE task_id = ?",
        "task_orphan",
    )
    .await
        != "FAILURE"
    {
        assert!(
            Instant::now() < deadline,
            "the orphan task was never failed"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let reason = text_of(
        &scene.pool,
        "SELECT fail_reason FROM tasks WHERE task_id = ?",
        "task_orphan",
    )
    .await;
    assert_eq!(reason, "the channel that ran the task was deleted");
    assert_eq!(balances(&scene).await, (before.0 + 1000, before.1));

    // A task unfinished a day after its submission times out, refunded.
    sqlx::query(
        "INSERT INTO tasks (created_at, updated_at, task_id, user_id, channel_id, quota, status, \
         fail_reason, submit_time, progress, prompt, data, upstream_task_id) \
         VALUES (0, 0, 'task_stale', 1, ?, 500, 'QUEUED', '', ?, '0%', '', '{}', 'x')",
    )
    .bind(scene.channel_id)
    .bind(chrono::Utc::now().timestamp() - 86_401)
    .execute(&scene.pool)
    .await
    .expect("stale task");
    let deadline = Instant::now() + Duration::from_secs(10);
    while text_of(
        &scene.pool,
        "SELECT fail_reason FROM tasks WHERE task_id = ?",
        "task_stale",
    )
    .await
        != "task timed out"
    {
        assert!(Instant::now() < deadline, "the stale task never timed out");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(balances(&scene).await, (before.0 + 1500, before.1));
}

on_every_backend!(failures_refund_once_and_refusals_charge_nothing);

async fn forms_and_task_lists(backend: Backend) {
    let scene = scene(backend).await;
    // A form with an input reference through new-api's alias.
    let form = reqwest::multipart::Form::new()
        .text("model", MODEL)
        .text("prompt", "animate this picture")
        .text("seconds", "4")
        .part(
            "input_reference",
            reqwest::multipart::Part::bytes(vec![0x89, b'P', b'N', b'G'])
                .file_name("frame.png")
                .mime_str("image/png")
                .expect("mime"),
        );
    let answer = reqwest::Client::new()
        .post(format!("{}/v1/video/generations", scene.pylon.base_url))
        .bearer_auth(&scene.key)
        .multipart(form)
        .send()
        .await
        .expect("proxy reachable");
    assert_eq!(answer.status(), 200);
    let form_task: Value = answer.json().await.expect("JSON");
    let form_id = form_task["id"].as_str().expect("id").to_string();
    let sent = scene.mock.created();
    assert!(sent[0].content_type.starts_with("multipart/form-data"));
    let form_body = String::from_utf8_lossy(&sent[0].body).to_string();
    assert!(form_body.contains("animate this picture"), "{form_body}");
    assert!(
        form_body.contains(&format!("\r\n\r\n{UPSTREAM_MODEL}\r\n")),
        "{form_body}"
    );
    assert!(
        !form_body.contains(&format!("\r\n\r\n{MODEL}\r\n")),
        "{form_body}"
    );
    assert!(form_body.contains("frame.png"), "{form_body}");
    let (status, text_task) = submit(
        &scene,
        &scene.key,
        json!({"model": MODEL, "prompt": "this will fail"}),
    )
    .await;
    assert_eq!(status, 200);
    let fail_id = text_task["id"].as_str().expect("id").to_string();
    eventually_status(&scene, &form_id, "completed").await;
    eventually_status(&scene, &fail_id, "failed").await;

    // The owner's list: new-api's rows, newest first, no channel or username.
    let own = scene.root.get("/api/task/self?p=1&page_size=10").await;
    assert!(own.success(), "{own:?}");
    assert_eq!(own.data()["total"], json!(2));
    let items = own.data()["items"].as_array().expect("items").clone();
    assert_eq!(items[0]["task_id"], json!(fail_id));
    assert_eq!(items[1]["task_id"], json!(form_id));
    let first = &items[1];
    assert_eq!(first["action"], json!("generate"));
    assert_eq!(items[0]["action"], json!("textGenerate"));
    assert_eq!(first["status"], json!("SUCCESS"));
    assert_eq!(first["progress"], json!("100%"));
    assert_eq!(first["platform"], json!("1"));
    assert_eq!(first["quota"], json!(4 * PER_SECOND));
    assert_eq!(first["channel_id"], json!(0));
    assert!(first.get("username").is_none(), "{first}");
    assert_eq!(first["properties"]["origin_model_name"], json!(MODEL));
    assert_eq!(
        first["properties"]["upstream_model_name"],
        json!(UPSTREAM_MODEL)
    );
    assert_eq!(first["properties"]["input"], json!("animate this picture"));
    assert_eq!(first["data"]["id"], json!(form_id));
    assert!(
        first["result_url"]
            .as_str()
            .unwrap_or_default()
            .ends_with(&format!("/v1/videos/{form_id}/content")),
        "{first}"
    );
    assert_eq!(items[0]["status"], json!("FAILURE"));
    assert_eq!(
        items[0]["fail_reason"],
        json!("The video was blocked by moderation")
    );
    // Filters.
    let failed = scene.root.get("/api/task/self?status=FAILURE").await;
    assert_eq!(failed.data()["total"], json!(1));
    let by_id = scene
        .root
        .get(&format!("/api/task/self?task_id={form_id}"))
        .await;
    assert_eq!(by_id.data()["items"][0]["task_id"], json!(form_id));
    let later = scene
        .root
        .get("/api/task/self?start_timestamp=4102444800")
        .await;
    assert_eq!(later.data()["total"], json!(0));
    assert_eq!(
        scene.root.get("/api/task/self?platform=99").await.data()["total"],
        json!(0)
    );

    // The admin's list: everyone's, with the channel and the username.
    let all = scene
        .root
        .get(&format!("/api/task/?channel_id={}", scene.channel_id))
        .await;
    assert!(all.success(), "{all:?}");
    assert_eq!(all.data()["total"], json!(2));
    assert_eq!(
        all.data()["items"][0]["channel_id"],
        json!(scene.channel_id)
    );
    assert_eq!(all.data()["items"][0]["username"], json!("root"));
    let other_channel = scene.root.get("/api/task/?channel_id=999999").await;
    assert_eq!(other_channel.data()["total"], json!(0));

    // A common user sees only their own tasks and not the admin list.
    let user = console_with_role(&scene.pylon, &scene.pool, "lister", 1).await;
    let mine = user.get("/api/task/self").await;
    assert!(mine.success(), "{mine:?}");
    assert_eq!(mine.data()["total"], json!(0));
    let refused = user.get("/api/task/").await;
    assert!(!refused.success(), "{refused:?}");
}

on_every_backend!(forms_and_task_lists);
