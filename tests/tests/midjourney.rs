//! new-api's Midjourney relay end to end, on SQLite and on MySQL + Redis: `/mj/submit/imagine`
//! (the key in `mj-api-secret`) reaches a Midjourney Proxy channel with the channel's secret
//! and the client's body (without `notifyHook`), is charged once at new-api's default
//! `ModelPrice` when accepted, and answers the upstream's task id; fetch reads the stored task,
//! the poller completes it through `list-by-condition`, `/mj/image/{id}` proxies its image, a
//! follow-up goes to the same channel under a mode prefix; a failed task is refunded once even
//! when two nodes fail it; bad input, unknown ids, another user's tasks and a missing key
//! answer clear errors and charge nothing; `/api/mj/self` and `/api/mj/` list with new-api's
//! filters. [`callbacks`]: midjourney-proxy's callback, the image URL held to the fetch
//! settings, and the options changed through the admin API reaching the proxy.

use pylon_shared::config::Config;
use pylon_shared::db::{Db, MidjourneyRow, MidjourneyUpdate, TaskFailed};
use pylon_tests::fixtures::*;
use pylon_tests::mj_upstream::{IMAGE, MJ_KEY, MjUpstream};
use pylon_tests::{Backend, Console, Pylon, on_every_backend};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

/// new-api's default prices: 0.1 USD (imagine), 0.05 USD (upscale), at 500 000 quota per USD.
const IMAGINE: i64 = 50_000;
const UPSCALE: i64 = 25_000;
/// new-api's default swap-face price, 0.05 USD.
const SWAP_FACE: i64 = 25_000;

struct Scene {
    pylon: Pylon,
    root: Console,
    pool: sqlx::AnyPool,
    mock: MjUpstream,
    key: String,
    key_id: i64,
    channel_id: i64,
}

/// A Pylon with a Midjourney channel on the mock, whose image URLs (on 127.0.0.1) it may
/// fetch: the operator allows private addresses and the mock's port.
async fn scene(backend: Backend) -> Scene {
    scene_with(backend, "100", |mock| {
        vec![
            ("fetch_setting.allow_private_ip", "true".to_string()),
            (
                "fetch_setting.allowed_ports",
                format!("[\"{}\"]", mock.port()),
            ),
        ]
    })
    .await
}

/// A Pylon whose poller runs every `poll_ms`, with `options(mock)` set before the channel is
/// created (so that the proxy holds them once the channel is routable).
async fn scene_with(
    backend: Backend,
    poll_ms: &str,
    options: impl FnOnce(&MjUpstream) -> Vec<(&'static str, String)>,
) -> Scene {
    let mock = MjUpstream::start().await;
    let pylon = Pylon::builder(backend)
        .env("PYLON__CONTROL_PLANE__TASK_POLL_MS", poll_ms)
        .start()
        .await;
    let root = root_console(&pylon).await;
    let pool = database(&pylon).await;
    set_option(&root, "ServerAddress", "https://pylon.example").await;
    for (key, value) in options(&mock) {
        set_option(&root, key, &value).await;
    }
    let channel = json!({"type": 2, "name": "midjourney", "key": MJ_KEY,
        "base_url": mock.base_url, "models": "mj_imagine,mj_upscale,mj_variation,swap_face",
        "group": "default", "priority": 0, "weight": 0});
    let channel_id = create_channel(&root, channel).await;
    let added = root
        .post(
            "/api/user/manage",
            json!({"id": 1, "action": "add_quota", "mode": "add", "value": 10_000_000}),
        )
        .await;
    assert!(added.success(), "{added:?}");
    let (key_id, key) = create_key(&root, "mj", 5_000_000, false).await;
    wait_until_routable(&pylon, &key, "mj_imagine").await;
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

/// Sends `body` (raw) to `path` with the key in `header` (`authorization` gets `Bearer `).
async fn call(
    scene: &Scene,
    method: reqwest::Method,
    path: &str,
    key: Option<(&str, &str)>,
    body: Option<&str>,
) -> (u16, Value) {
    let mut request =
        reqwest::Client::new().request(method, format!("{}{path}", scene.pylon.base_url));
    if let Some((header, key)) = key {
        let value = if header == "authorization" {
            format!("Bearer {key}")
        } else {
            key.to_string()
        };
        request = request.header(header, value);
    }
    if let Some(body) = body {
        request = request
            .header("content-type", "application/json")
            .body(body.to_string());
    }
    let answer = request.send().await.expect("proxy reachable");
    let status = answer.status().as_u16();
    let text = answer.text().await.expect("body");
    (
        status,
        serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text}")),
    )
}

async fn submit(scene: &Scene, key: &str, path: &str, body: Value) -> (u16, Value) {
    call(
        scene,
        reqwest::Method::POST,
        path,
        Some(("mj-api-secret", key)),
        Some(&body.to_string()),
    )
    .await
}

async fn fetch(scene: &Scene, key: &str, id: &str) -> (u16, Value) {
    call(
        scene,
        reqwest::Method::GET,
        &format!("/mj/task/{id}/fetch"),
        Some(("authorization", key)),
        None,
    )
    .await
}

async fn eventually_status(scene: &Scene, id: &str, status: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (code, task) = fetch(scene, &scene.key, id).await;
        assert_eq!(code, 200, "{task}");
        if task["status"] == json!(status) {
            return task;
        }
        assert!(Instant::now() < deadline, "task {id} stays {task}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn count_of(pool: &sqlx::AnyPool, sql: &str, text: &str) -> i64 {
    sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(sql.to_string()))
        .bind(text)
        .fetch_one(pool)
        .await
        .expect(sql)
}

async fn a_task_is_charged_polled_and_its_image_proxied(backend: Backend) {
    let scene = scene(backend).await;
    let before = balances(&scene).await;
    let (status, accepted) = submit(
        &scene,
        &scene.key,
        "/mj/submit/imagine",
        json!({"prompt": "a cat", "notifyHook": "http://hook.example", "base64Array": []}),
    )
    .await;
    assert_eq!(status, 200, "{accepted}");
    assert_eq!(accepted["code"], json!(1));
    let id = accepted["result"].as_str().expect("task id").to_string();
    let sent = scene.mock.submitted();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].path, "/mj/submit/imagine");
    assert_eq!(sent[0].id, id, "the client gets the upstream's id");
    assert_eq!(sent[0].body, json!({"prompt": "a cat", "base64Array": []}));

    // Charged once at new-api's default price, with one log row.
    eventually_balances(&scene, (before.0 - IMAGINE, before.1 - IMAGINE)).await;
    let consumed = "SELECT COUNT(*) FROM logs WHERE type = 2 AND model_name = ?";
    assert_eq!(count_of(&scene.pool, consumed, "mj_imagine").await, 1);

    // The stored task, in midjourney-proxy's shape.
    let (code, task) = fetch(&scene, &scene.key, &id).await;
    assert_eq!(code, 200, "{task}");
    assert_eq!(task["id"], json!(id));
    assert_eq!(task["action"], json!("IMAGINE"));
    assert_eq!(task["prompt"], json!("a cat"));

    // The poller completes it.
    let done = eventually_status(&scene, &id, "SUCCESS").await;
    assert_eq!(done["progress"], json!("100%"));
    assert_eq!(
        done["imageUrl"],
        json!(format!("https://pylon.example/mj/image/{id}"))
    );
    assert_eq!(done["buttons"][0]["label"], json!("U1"));
    assert_eq!(done["properties"]["finalPrompt"], json!("p final"));
    assert!(scene.mock.polls(&id) >= 2);

    // The image, without a key.
    let image = reqwest::get(format!("{}/mj/image/{id}", scene.pylon.base_url))
        .await
        .expect("proxy reachable");
    assert_eq!(image.status(), 200);
    assert_eq!(
        image.headers()["content-type"].to_str().expect("type"),
        "image/png"
    );
    assert_eq!(image.bytes().await.expect("image").as_ref(), IMAGE);
    let (code, missing) = call(&scene, reqwest::Method::GET, "/mj/image/404", None, None).await;
    assert_eq!(
        (code, missing),
        (400, json!({"error": "midjourney_task_not_found"}))
    );

    // A follow-up under a mode prefix: same channel, path without the mode, its own price.
    let (status, upscaled) = submit(
        &scene,
        &scene.key,
        "/mj-fast/mj/submit/change",
        json!({"taskId": id, "action": "UPSCALE", "index": 1}),
    )
    .await;
    assert_eq!(
        (status, upscaled["code"].clone()),
        (200, json!(1)),
        "{upscaled}"
    );
    let sent = scene.mock.submitted();
    assert_eq!(sent.len(), 2);
    assert_eq!(sent[1].path, "/mj/submit/change");
    let charge = IMAGINE + UPSCALE;
    eventually_balances(&scene, (before.0 - charge, before.1 - charge)).await;
    let up_id = upscaled["result"].as_str().expect("id");
    let (_, up) = fetch(&scene, &scene.key, up_id).await;
    assert_eq!(up["action"], json!("UPSCALE"));
    assert_eq!(
        up["prompt"],
        json!("a cat"),
        "the follow-up keeps the prompt"
    );

    // list-by-condition answers the caller's tasks among the ids; image-seed asks upstream.
    let (code, listed) = call(
        &scene,
        reqwest::Method::POST,
        "/mj/task/list-by-condition",
        Some(("authorization", &scene.key)),
        Some(&json!({"ids": [id, "unknown"]}).to_string()),
    )
    .await;
    assert_eq!(code, 200);
    assert_eq!(listed.as_array().map(Vec::len), Some(1), "{listed}");
    assert_eq!(listed[0]["id"], json!(id));
    let (code, seed) = call(
        &scene,
        reqwest::Method::GET,
        &format!("/mj-relax/mj/task/{id}/image-seed"),
        Some(("mj-api-secret", &scene.key)),
        None,
    )
    .await;
    assert_eq!(
        (code, seed["result"].clone()),
        (200, json!(format!("seed-{id}")))
    );
    assert_eq!(scene.mock.bad_keys(), 0);

    // Face swap: its own route and price (swap_face, 0.05 USD); both images are required.
    let (status, swapped) = submit(
        &scene,
        &scene.key,
        "/mj/insight-face/swap",
        json!({"sourceBase64": "data:image/png;base64,AA", "targetBase64": "data:image/png;base64,BB"}),
    )
    .await;
    assert_eq!(
        (status, swapped["code"].clone()),
        (200, json!(1)),
        "{swapped}"
    );
    assert_eq!(scene.mock.submitted()[2].path, "/mj/insight-face/swap");
    let charge = charge + SWAP_FACE;
    eventually_balances(&scene, (before.0 - charge, before.1 - charge)).await;
    let (status, incomplete) = submit(
        &scene,
        &scene.key,
        "/mj/insight-face/swap",
        json!({"sourceBase64": "data:image/png;base64,AA"}),
    )
    .await;
    assert_eq!(status, 400, "{incomplete}");
    assert_eq!(
        incomplete["description"],
        json!("sour_base64_and_target_base64_is_required ")
    );

    // Queued (code 22) is accepted, charged, and answered as code 1.
    let (status, queued) = submit(
        &scene,
        &scene.key,
        "/mj/submit/imagine",
        json!({"prompt": "queue me"}),
    )
    .await;
    assert_eq!(
        (status, queued["code"].clone()),
        (200, json!(1)),
        "{queued}"
    );
    let charge = charge + IMAGINE;
    eventually_balances(&scene, (before.0 - charge, before.1 - charge)).await;
}

on_every_backend!(a_task_is_charged_polled_and_its_image_proxied);

async fn failures_refund_once_and_bad_input_charges_nothing(backend: Backend) {
    let scene = scene(backend).await;
    let before = balances(&scene).await;

    // A task that fails upstream is charged, then refunded once by the poller.
    let (status, accepted) = submit(
        &scene,
        &scene.key,
        "/mj/submit/imagine",
        json!({"prompt": "please fail"}),
    )
    .await;
    assert_eq!((status, accepted["code"].clone()), (200, json!(1)));
    let id = accepted["result"].as_str().expect("id").to_string();
    let failed = eventually_status(&scene, &id, "FAILURE").await;
    assert_eq!(failed["failReason"], json!("banned prompt"));
    eventually_balances(&scene, before).await;
    let refunds = "SELECT COUNT(*) FROM logs WHERE type = 6 AND content LIKE ?";
    assert_eq!(count_of(&scene.pool, refunds, &format!("%{id}%")).await, 1);
    let refunded = "SELECT refunded FROM midjourneys WHERE mj_id = ?";
    assert_eq!(count_of(&scene.pool, refunded, &id).await, 1);

    // Refused upstream (code 24): the answer as is, nothing charged, recorded as failed.
    let errors = "SELECT COUNT(*) FROM logs WHERE type = 5 AND model_name = ?";
    let errors_before = count_of(&scene.pool, errors, "mj_imagine").await;
    let (status, refused) = submit(
        &scene,
        &scene.key,
        "/mj/submit/imagine",
        json!({"prompt": "refuse this"}),
    )
    .await;
    assert_eq!(
        (status, refused["code"].clone()),
        (200, json!(24)),
        "{refused}"
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while count_of(&scene.pool, errors, "mj_imagine").await == errors_before {
        assert!(
            Instant::now() < deadline,
            "no error log row for the refusal"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(balances(&scene).await, before);

    // Bad input: new-api's errors, nothing sent upstream, nothing charged.
    let sent = scene.mock.submitted().len();
    let post = |path: &'static str, body: &'static str| {
        let scene = &scene;
        async move {
            call(
                scene,
                reqwest::Method::POST,
                path,
                Some(("authorization", &scene.key)),
                Some(body),
            )
            .await
        }
    };
    let expect = |answer: (u16, Value), description: &str| {
        assert_eq!(
            answer,
            (
                400,
                json!({"description": format!("{description} "), "type": "upstream_error", "code": 4})
            )
        );
    };
    expect(
        post("/mj/submit/imagine", "{not json").await,
        "bind_request_body_failed",
    );
    expect(
        post("/mj/submit/imagine", r#"{"prompt": ""}"#).await,
        "prompt_is_required",
    );
    expect(
        post(
            "/mj/submit/change",
            r#"{"taskId": "nope", "action": "UPSCALE", "index": 1}"#,
        )
        .await,
        "task_not_found",
    );
    expect(
        post("/mj/submit/simple-change", r#"{"content": "x Q9"}"#).await,
        "content_parse_failed",
    );
    expect(
        post("/mj/task/list-by-condition", "[1, 2]").await,
        "do_request_failed",
    );
    expect(fetch(&scene, &scene.key, "unknown").await, "task_no_found");
    // One more task, for the lists.
    let (_, pending) = submit(
        &scene,
        &scene.key,
        "/mj/submit/imagine",
        json!({"prompt": "slow"}),
    )
    .await;
    let pending_id = pending["result"].as_str().expect("id").to_string();
    let charged_pending = (before.0 - IMAGINE, before.1 - IMAGINE);
    eventually_balances(&scene, charged_pending).await;
    // Missing and wrong keys: OpenAI's 401.
    let (code, missing) = call(
        &scene,
        reqwest::Method::POST,
        "/mj/submit/imagine",
        None,
        Some(r#"{"prompt": "a"}"#),
    )
    .await;
    assert_eq!(code, 401, "{missing}");
    assert!(missing["error"]["message"].as_str().is_some());
    let (code, _) = submit(
        &scene,
        "sk-wrong",
        "/mj/submit/imagine",
        json!({"prompt": "a"}),
    )
    .await;
    assert_eq!(code, 401);
    assert_eq!(
        scene.mock.submitted().len(),
        sent + 1,
        "only the valid submission went upstream"
    );
    assert_eq!(scene.mock.bad_keys(), 0);

    // Another user sees none of these tasks.
    let other = console_with_role(&scene.pylon, &scene.pool, "other-user", 1).await;
    let (_, other_key) = create_key(&other, "other", 0, true).await;
    expect(fetch(&scene, &other_key, &id).await, "task_no_found");
    let (code, listed) = call(
        &scene,
        reqwest::Method::POST,
        "/mj/task/list-by-condition",
        Some(("authorization", &other_key)),
        Some(&json!({"ids": [id, pending_id]}).to_string()),
    )
    .await;
    assert_eq!((code, listed), (200, json!([])));
    let own = other.get("/api/mj/self?p=1&page_size=10").await;
    assert!(own.success(), "{own:?}");
    assert_eq!(own.data()["total"], json!(0));

    // The lists: the user's own, and the admin's with new-api's filters.
    let mine = scene.root.get("/api/mj/self?p=1&page_size=10").await;
    assert!(mine.success(), "{mine:?}");
    assert_eq!(mine.data()["total"], json!(3), "{mine:?}");
    let first = &mine.data()["items"][0];
    assert_eq!(first["mj_id"], json!(pending_id), "newest first");
    assert_eq!(first["action"], json!("IMAGINE"));
    assert_eq!(first["quota"], json!(IMAGINE));
    assert_eq!(first["channel_id"], json!(scene.channel_id));
    let by_id = scene
        .root
        .get(&format!("/api/mj/?p=1&page_size=10&mj_id={id}"))
        .await;
    assert_eq!(by_id.data()["total"], json!(1), "{by_id:?}");
    assert_eq!(by_id.data()["items"][0]["status"], json!("FAILURE"));
    assert_eq!(
        by_id.data()["items"][0]["fail_reason"],
        json!("banned prompt")
    );
    let other_channel = scene
        .root
        .get(&format!("/api/mj/?channel_id={}", scene.channel_id + 1000))
        .await;
    assert_eq!(other_channel.data()["total"], json!(0));
    let later = scene
        .root
        .get("/api/mj/?start_timestamp=99999999999999")
        .await;
    assert_eq!(later.data()["total"], json!(0));
    let forbidden = other.get("/api/mj/").await;
    assert!(!forbidden.success(), "{forbidden:?}");
}

on_every_backend!(failures_refund_once_and_bad_input_charges_nothing);

async fn node_db(pylon: &Pylon) -> Db {
    let env = vec![("PYLON__DATABASE__URL".to_string(), pylon.database_url())];
    let config = Config::load(None, env).expect("config");
    Db::connect(&config).await.expect("connect")
}

async fn two_pollers_claim_apart_and_refund_once(backend: Backend) {
    // The control plane's own poller waits an hour between polls: only the two nodes here act.
    let pylon = Pylon::builder(backend)
        .env("PYLON__CONTROL_PLANE__TASK_POLL_MS", "3600000")
        .start()
        .await;
    let _root = root_console(&pylon).await;
    let pool = database(&pylon).await;
    let (a, b) = (node_db(&pylon).await, node_db(&pylon).await);
    for n in 0..30 {
        let row = MidjourneyRow {
            user_id: 1,
            action: "IMAGINE".into(),
            mj_id: format!("lease{n}"),
            model: "mj_imagine".into(),
            progress: "0%".into(),
            quota: 1_000,
            ..MidjourneyRow::default()
        };
        a.insert_midjourney(&row).await.expect("insert");
    }
    let (left, right) = tokio::join!(
        a.claim_unfinished_midjourneys(50, 120),
        b.claim_unfinished_midjourneys(50, 120)
    );
    let (left, right) = (left.expect("claim"), right.expect("claim"));
    assert_eq!(left.len() + right.len(), 30);
    assert!(
        left.iter().all(|l| right.iter().all(|r| r.id != l.id)),
        "a task was claimed twice"
    );
    assert!(
        a.claim_unfinished_midjourneys(50, 120)
            .await
            .expect("claim")
            .is_empty()
    );
    let task = left.first().or(right.first()).expect("claimed").clone();
    let failure = MidjourneyUpdate {
        status: "FAILURE".into(),
        progress: "100%".into(),
        fail_reason: "banned".into(),
        ..MidjourneyUpdate::default()
    };
    let quota_before = scalar_of(&pool, "SELECT quota FROM users WHERE id = ?", 1).await;
    let (x, y) = tokio::join!(
        a.fail_midjourney_and_refund(&task, &failure),
        b.fail_midjourney_and_refund(&task, &failure)
    );
    let outcomes = [x.expect("fail"), y.expect("fail")];
    let refunded = outcomes
        .iter()
        .filter(|o| {
            matches!(
                o,
                TaskFailed::Refunded {
                    movement: Some(_),
                    ..
                }
            )
        })
        .count();
    let ended = outcomes
        .iter()
        .filter(|o| matches!(o, TaskFailed::AlreadyFinished))
        .count();
    assert_eq!((refunded, ended), (1, 1), "{outcomes:?}");
    assert_eq!(
        scalar_of(&pool, "SELECT quota FROM users WHERE id = ?", 1).await,
        quota_before + 1_000
    );
    assert_eq!(
        scalar(&pool, "SELECT COUNT(*) FROM logs WHERE type = 6").await,
        1
    );
    // Failed again later (a second poll): nothing moves.
    let again = a
        .fail_midjourney_and_refund(&task, &failure)
        .await
        .expect("fail");
    assert!(matches!(again, TaskFailed::AlreadyFinished), "{again:?}");
    a.release_midjourney(task.id).await.expect("release");
    let later = a.claim_unfinished_midjourneys(50, 0).await.expect("claim");
    assert!(later.iter().all(|t| t.id != task.id));
}

on_every_backend!(two_pollers_claim_apart_and_refund_once);

/// The callback (`/mj/notify`), the image's fetch settings, and options reaching the proxy.
#[path = "midjourney_callbacks.rs"]
mod callbacks;
