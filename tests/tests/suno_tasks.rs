//! new-api's Suno relay end to end, on SQLite and on MySQL + Redis: `POST /suno/submit/music`
//! and `/lyrics` go to a Suno channel (type 36) with its key, re-encoded as new-api sends them,
//! charged once at the action's `ModelPrice` (`suno_music`, `suno_lyrics`) when the upstream
//! accepts, and answered `{code, message, data: <Pylon's task id>}`; the poller asks the
//! upstream's batch `POST /suno/fetch` and moves tasks to `SUCCESS`; `GET /suno/fetch/{id}`
//! and `POST /suno/fetch` answer new-api's task rows; a continuation goes to the origin's
//! channel with the origin's upstream id; a failed task is refunded exactly once; refusals and
//! bad input charge nothing; another user's task does not exist; `/api/task/self` lists them.

use pylon_tests::fixtures::*;
use pylon_tests::suno_upstream::{SUNO_KEY, SunoUpstream};
use pylon_tests::{Backend, Console, Pylon, on_every_backend};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

/// `ModelPrice` 0.1 USD x 500 000 quota per USD.
const MUSIC_PRICE: i64 = 50_000;
/// `ModelPrice` 0.01 USD.
const LYRICS_PRICE: i64 = 5_000;

struct Scene {
    pylon: Pylon,
    root: Console,
    pool: sqlx::AnyPool,
    mock: SunoUpstream,
    key: String,
    key_id: i64,
    channel_id: i64,
}

/// A Pylon polling tasks every 100 ms, Suno's models priced on one Suno channel of the mock,
/// root with quota and a limited key.
async fn scene(backend: Backend) -> Scene {
    let mock = SunoUpstream::start().await;
    let pylon = Pylon::builder(backend)
        .env("PYLON__CONTROL_PLANE__TASK_POLL_MS", "100")
        .start()
        .await;
    let root = root_console(&pylon).await;
    let pool = database(&pylon).await;
    set_option(
        &root,
        "ModelPrice",
        &json!({"suno_music": 0.1, "suno_lyrics": 0.01}).to_string(),
    )
    .await;
    let channel = json!({"type": 36, "name": "suno", "key": SUNO_KEY, "base_url": mock.base_url,
        "models": "suno_music,suno_lyrics", "group": "default", "priority": 0, "weight": 0});
    let channel_id = create_channel(&root, channel).await;
    let added = root
        .post(
            "/api/user/manage",
            json!({"id": 1, "action": "add_quota", "mode": "add", "value": 10_000_000}),
        )
        .await;
    assert!(added.success(), "{added:?}");
    let (key_id, key) = create_key(&root, "suno", 5_000_000, false).await;
    wait_until_routable(&pylon, &key, "suno_lyrics").await;
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

async fn balances(scene: &Scene) -> (i64, i64) {
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
async fn eventually_balances(scene: &Scene, expected: (i64, i64)) {
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

/// Sends `body` (JSON text as given) to `path` with `key`: the status and the JSON answer.
async fn call(
    scene: &Scene,
    key: &str,
    method: reqwest::Method,
    path: &str,
    body: Option<&str>,
) -> (u16, Value) {
    let mut request = reqwest::Client::new()
        .request(method, format!("{}{path}", scene.pylon.base_url))
        .bearer_auth(key);
    if let Some(body) = body {
        request = request
            .header("content-type", "application/json")
            .body(body.to_string());
    }
    let answer = request.send().await.expect("proxy reachable");
    let status = answer.status().as_u16();
    (status, answer.json().await.expect("JSON answer"))
}

async fn submit(scene: &Scene, action: &str, body: Value) -> (u16, Value) {
    call(
        scene,
        &scene.key,
        reqwest::Method::POST,
        &format!("/suno/submit/{action}"),
        Some(&body.to_string()),
    )
    .await
}

/// Waits until the task `id` reads `status` through `GET /suno/fetch/{id}`; answers its row.
async fn eventually_status(scene: &Scene, id: &str, status: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (code, answer) = call(
            scene,
            &scene.key,
            reqwest::Method::GET,
            &format!("/suno/fetch/{id}"),
            None,
        )
        .await;
        assert_eq!(code, 200, "{answer}");
        assert_eq!(answer["code"], json!("success"), "{answer}");
        if answer["data"]["status"] == json!(status) {
            return answer["data"].clone();
        }
        assert!(Instant::now() < deadline, "task {id} stays {answer}");
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

async fn suno_tasks_are_charged_polled_and_fetched(backend: Backend) {
    let scene = scene(backend).await;
    let before = balances(&scene).await;

    // A song: relayed as new-api re-encodes it, answered with Pylon's id.
    let (status, created) = submit(
        &scene,
        "music",
        json!({"prompt": "a song about the sea", "tags": "pop", "unknown_field": 1}),
    )
    .await;
    assert_eq!(status, 200, "{created}");
    assert_eq!(created["code"], json!("success"));
    let id = created["data"].as_str().expect("task id").to_string();
    assert!(id.starts_with("task_") && id.len() == 37, "{id}");
    let sent = scene.mock.submitted();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].action, "MUSIC");
    assert_eq!(
        sent[0].body,
        json!({"prompt": "a song about the sea", "tags": "pop", "mv": "chirp-v3-0",
            "make_instrumental": false})
    );
    assert_ne!(id, sent[0].id);
    let row = |column: &str| format!("SELECT {column} FROM tasks WHERE task_id = ?");
    assert_eq!(
        text_of(&scene.pool, &row("upstream_task_id"), &id).await,
        sent[0].id
    );
    assert_eq!(text_of(&scene.pool, &row("platform"), &id).await, "suno");
    assert_eq!(text_of(&scene.pool, &row("action"), &id).await, "MUSIC");

    // Lyrics, priced as suno_lyrics.
    let (status, lyrics) = submit(&scene, "LYRICS", json!({"prompt": "rain on a window"})).await;
    assert_eq!(status, 200, "{lyrics}");
    let lyrics_id = lyrics["data"].as_str().expect("task id").to_string();
    assert_eq!(scene.mock.submitted()[1].action, "LYRICS");

    // Charged once each, with one log row each.
    let charge = MUSIC_PRICE + LYRICS_PRICE;
    eventually_balances(&scene, (before.0 - charge, before.1 - charge)).await;
    let consumed = "SELECT COUNT(*) FROM logs WHERE type = 2 AND model_name = ?";
    assert_eq!(count_of(&scene.pool, consumed, "suno_music").await, 1);
    assert_eq!(count_of(&scene.pool, consumed, "suno_lyrics").await, 1);

    // The poller asks the upstream's batch fetch until the tasks succeed.
    let done = eventually_status(&scene, &id, "SUCCESS").await;
    assert_eq!(done["task_id"], json!(id));
    assert_eq!(done["platform"], json!("suno"));
    assert_eq!(done["action"], json!("MUSIC"));
    assert_eq!(done["progress"], json!("100%"));
    assert_eq!(done["quota"], json!(MUSIC_PRICE));
    assert_eq!(done["finish_time"], json!(1_700_000_100));
    assert_eq!(done["properties"]["origin_model_name"], json!("suno_music"));
    assert_eq!(
        done["data"][0]["audio_url"],
        json!(format!("https://cdn.example/{}.mp3", sent[0].id))
    );
    assert!(done.get("result_url").is_none(), "{done}");
    eventually_status(&scene, &lyrics_id, "SUCCESS").await;
    let upstream_ids = [sent[0].id.clone(), scene.mock.submitted()[1].id.clone()];
    let fetches = scene.mock.fetches();
    assert!(!fetches.is_empty());
    assert!(
        fetches
            .iter()
            .flatten()
            .all(|asked| upstream_ids.contains(asked)),
        "{fetches:?}"
    );
    assert!(scene.mock.polls(&upstream_ids[0]) >= 2);

    // new-api's batch fetch: the caller's tasks among the ids named.
    let (status, batch) = call(
        &scene,
        &scene.key,
        reqwest::Method::POST,
        "/suno/fetch",
        Some(&json!({"ids": [id, lyrics_id, "task_unknown"], "action": "MUSIC"}).to_string()),
    )
    .await;
    assert_eq!(status, 200, "{batch}");
    assert_eq!(batch["code"], json!("success"));
    let items = batch["data"].as_array().expect("rows");
    assert_eq!(items.len(), 2, "{batch}");
    let (_, empty) = call(
        &scene,
        &scene.key,
        reqwest::Method::POST,
        "/suno/fetch",
        Some("{}"),
    )
    .await;
    assert_eq!(empty["data"], json!([]));

    // A continuation of the song goes to its channel with the upstream's id of it.
    let (status, more) = submit(
        &scene,
        "music",
        json!({"prompt": "and then", "continue_clip_id": "clip", "task_id": id,
            "continue_at": 30}),
    )
    .await;
    assert_eq!(status, 200, "{more}");
    let third = scene.mock.submitted()[2].body.clone();
    assert_eq!(third["task_id"], json!(sent[0].id), "{third}");
    assert_eq!(third["continue_at"], json!(30.0));
    let charge = charge + MUSIC_PRICE;
    eventually_balances(&scene, (before.0 - charge, before.1 - charge)).await;

    // Another user sees none of it.
    let other = console_with_role(&scene.pylon, &scene.pool, "other-user", 1).await;
    let (_, other_key) = create_key(&other, "other", 0, true).await;
    for path in [
        format!("/suno/fetch/{id}"),
        format!("/v1/video/generations/{id}"),
    ] {
        let (code, error) = call(&scene, &other_key, reqwest::Method::GET, &path, None).await;
        assert_eq!(code, 400, "{path}: {error}");
        assert_eq!(error["code"], json!("task_not_exist"), "{error}");
        assert_eq!(error["data"], Value::Null);
    }
    let (_, theirs) = call(
        &scene,
        &other_key,
        reqwest::Method::POST,
        "/suno/fetch",
        Some(&json!({"ids": [id]}).to_string()),
    )
    .await;
    assert_eq!(theirs["data"], json!([]));

    // The task lists show Suno's tasks, with new-api's platform filter.
    let own = scene.root.get("/api/task/self?platform=suno").await;
    assert!(own.success(), "{own:?}");
    assert_eq!(own.data()["total"], json!(3));
    let listed = &own.data()["items"][2];
    assert_eq!(listed["task_id"], json!(id));
    assert_eq!(listed["platform"], json!("suno"));
    assert_eq!(listed["channel_id"], json!(0));
    let by_action = scene.root.get("/api/task/?action=LYRICS").await;
    assert_eq!(by_action.data()["total"], json!(1));
    assert_eq!(by_action.data()["items"][0]["task_id"], json!(lyrics_id));
    assert_eq!(scene.mock.bad_keys(), 0);
    // Nothing else moved money.
    eventually_balances(&scene, (before.0 - charge, before.1 - charge)).await;
}

on_every_backend!(suno_tasks_are_charged_polled_and_fetched);

async fn suno_failures_refund_once_and_bad_input_charges_nothing(backend: Backend) {
    let scene = scene(backend).await;
    let before = balances(&scene).await;

    // Bad input: new-api's 400s, nothing charged, no upstream asked.
    for (path, body, message) in [
        ("/suno/submit/music", "not json", None),
        ("/suno/submit/music", r#"{"prompt": 5}"#, None),
        (
            "/suno/submit/dance",
            r#"{"prompt": "x"}"#,
            Some("invalid_action"),
        ),
        ("/suno/submit/lyrics", "{}", Some("prompt_empty")),
        (
            "/suno/submit/music",
            r#"{"continue_clip_id": "c"}"#,
            Some("task id is empty"),
        ),
        ("/suno/fetch", "nope", None),
    ] {
        let (status, error) =
            call(&scene, &scene.key, reqwest::Method::POST, path, Some(body)).await;
        assert_eq!(status, 400, "{path} {body}: {error}");
        assert_eq!(error["code"], json!("invalid_request"), "{error}");
        if let Some(message) = message {
            assert_eq!(error["message"], json!(message), "{error}");
        }
    }
    let (status, unknown) = submit(
        &scene,
        "music",
        json!({"prompt": "x", "continue_clip_id": "c", "task_id": "task_unknown"}),
    )
    .await;
    assert_eq!((status, &unknown["code"]), (400, &json!("task_not_exist")));
    let (status, unknown) = call(
        &scene,
        &scene.key,
        reqwest::Method::GET,
        "/suno/fetch/task_unknown",
        None,
    )
    .await;
    assert_eq!(status, 400, "{unknown}");
    assert_eq!(
        unknown,
        json!({"code": "task_not_exist", "message": "task_not_exist", "data": null})
    );
    assert!(scene.mock.submitted().is_empty());

    // The upstream refuses (HTTP 400), or answers another code than success: nothing charged.
    let (status, refused) = submit(&scene, "music", json!({"prompt": "please refuse this"})).await;
    assert_eq!(status, 400, "{refused}");
    assert_eq!(refused["code"], json!("fail_to_fetch_task"));
    assert!(
        refused["message"]
            .as_str()
            .unwrap_or_default()
            .contains("refused upstream"),
        "{refused}"
    );
    let (status, broke) = submit(&scene, "music", json!({"prompt": "broke"})).await;
    assert_eq!(status, 500, "{broke}");
    assert_eq!(broke["code"], json!("error"));
    assert_eq!(broke["message"], json!("upstream out of credits"));
    eventually_equals(
        &scene.pool,
        "SELECT COUNT(*) FROM logs WHERE type = 5 AND model_name = 'suno_music' AND quota = 0",
        2,
    )
    .await;
    assert_eq!(scalar(&scene.pool, "SELECT COUNT(*) FROM tasks").await, 0);
    assert_eq!(balances(&scene).await, before);

    // A task that fails upstream is refunded, once.
    let (status, created) = submit(&scene, "music", json!({"prompt": "this one will fail"})).await;
    assert_eq!(status, 200, "{created}");
    let id = created["data"].as_str().expect("id").to_string();
    // Charged when accepted (the poller may refund it before a balance would show the charge).
    eventually_equals(
        &scene.pool,
        "SELECT COUNT(*) FROM logs WHERE type = 2 AND model_name = 'suno_music' AND quota = 50000",
        1,
    )
    .await;
    let failed = eventually_status(&scene, &id, "FAILURE").await;
    assert_eq!(
        failed["fail_reason"],
        json!("The song was blocked by moderation")
    );
    assert_eq!(failed["progress"], json!("100%"));
    eventually_balances(&scene, before).await;
    let refunds = "SELECT COUNT(*) FROM logs WHERE type = 6 AND quota = 50000 AND content LIKE ?";
    assert_eq!(count_of(&scene.pool, refunds, &format!("%{id}%")).await, 1);

    // A stale poll sees the failure again: no money moves.
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

    // A Suno task whose channel was deleted fails and is refunded; one unfinished a day after
    // its submission times out, refunded.
    let now = chrono::Utc::now().timestamp();
    for (task_id, channel_id, quota, submitted) in [
        ("task_suno_orphan", 987_654, 1000, now),
        ("task_suno_stale", scene.channel_id, 500, now - 86_401),
    ] {
        sqlx::query(
            "INSERT INTO tasks (created_at, updated_at, task_id, platform, user_id, channel_id, \
             quota, status, fail_reason, submit_time, progress, prompt, data, upstream_task_id) \
             VALUES (0, 0, ?, 'suno', 1, ?, ?, 'IN_PROGRESS', '', ?, '10%', '', '', 'x')",
        )
        .bind(task_id)
        .bind(channel_id)
        .bind(quota)
        .bind(submitted)
        .execute(&scene.pool)
        .await
        .expect("task");
    }
    for (task_id, reason) in [
        (
            "task_suno_orphan",
            "the channel that ran the task was deleted",
        ),
        ("task_suno_stale", "task timed out"),
    ] {
        let deadline = Instant::now() + Duration::from_secs(10);
        while text_of(
            &scene.pool,
            "SELECT fail_reason FROM tasks WHERE task_id = ?",
            task_id,
        )
        .await
            != reason
        {
            assert!(Instant::now() < deadline, "{task_id} never failed");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    eventually_balances(&scene, (before.0 + 1500, before.1)).await;
    assert_eq!(scene.mock.bad_keys(), 0);
}

on_every_backend!(suno_failures_refund_once_and_bad_input_charges_nothing);
