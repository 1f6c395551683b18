//! midjourney-proxy's callback, on SQLite and on MySQL + Redis: with `MjNotifyEnabled`, a
//! submission without a hook reaches the upstream with Pylon's `/mj/notify` (the client's own
//! hook is passed as it is); a callback moves its task only by what the task's channel says
//! when asked (a forged state or image URL is never stored), a failure through a callback is
//! refunded once, replays change nothing, malformed or unknown callbacks are refused. The
//! image route refuses a loopback URL (as an address or a name) while SSRF protection is on,
//! and a redirect to one, and serves it once the operator allows private addresses through the
//! admin API; changed Midjourney options reach the proxy through the change feed.

use super::*;

const HOOK: &str = "https://pylon.example/mj/notify";

async fn notify(scene: &Scene, body: &str) -> (u16, Value) {
    call(scene, reqwest::Method::POST, "/mj/notify", None, Some(body)).await
}

/// The task's row as stored: (status, progress, image url, fail reason).
async fn stored(scene: &Scene, id: &str) -> (String, String, String, String) {
    sqlx::query_as(
        "SELECT status, progress, image_url, fail_reason FROM midjourneys WHERE mj_id = ?",
    )
    .bind(id)
    .fetch_one(&scene.pool)
    .await
    .expect("task row")
}

async fn callbacks_move_tasks_as_their_channel_says_and_refund_once(backend: Backend) {
    // The poller waits an hour: only callbacks move tasks here.
    let scene = scene_with(backend, "3600000", |_| {
        vec![("MjNotifyEnabled", "true".to_string())]
    })
    .await;
    let before = balances(&scene).await;

    // The hook: Pylon's own, or the client's as it gave it.
    let (status, accepted) = submit(
        &scene,
        &scene.key,
        "/mj/submit/imagine",
        json!({"prompt": "a dog"}),
    )
    .await;
    assert_eq!(
        (status, accepted["code"].clone()),
        (200, json!(1)),
        "{accepted}"
    );
    let id = accepted["result"].as_str().expect("id").to_string();
    let sent = scene.mock.submitted();
    assert_eq!(
        sent[0].body["notifyHook"],
        json!(HOOK),
        "{:?}",
        sent[0].body
    );
    let (_, own) = submit(
        &scene,
        &scene.key,
        "/mj/submit/imagine",
        json!({"prompt": "a bird", "notifyHook": "https://client.example/cb"}),
    )
    .await;
    assert_eq!(own["code"], json!(1), "{own}");
    assert_eq!(
        scene.mock.submitted()[1].body["notifyHook"],
        json!("https://client.example/cb")
    );
    let charged = (before.0 - 2 * IMAGINE, before.1 - 2 * IMAGINE);
    eventually_balances(&scene, charged).await;

    // A callback claiming success with another image: the channel says 50%, and that is kept.
    let forged = json!({"id": id, "status": "SUCCESS", "progress": "100%",
        "imageUrl": "http://evil.example/x.png", "failReason": ""})
    .to_string();
    let (code, answer) = notify(&scene, &forged).await;
    assert_eq!(code, 200, "{answer}");
    assert_eq!(scene.mock.polls(&id), 1, "the callback asked the channel");
    assert_eq!(
        stored(&scene, &id).await,
        (
            "IN_PROGRESS".into(),
            "50%".into(),
            String::new(),
            String::new()
        )
    );
    // The next callback: the channel says it succeeded, with its own image.
    let (code, _) = notify(&scene, &forged).await;
    assert_eq!(code, 200);
    let (status, progress, image_url, _) = stored(&scene, &id).await;
    assert_eq!((status.as_str(), progress.as_str()), ("SUCCESS", "100%"));
    assert_eq!(
        image_url,
        format!("{}/images/{id}.png", scene.mock.base_url)
    );
    let (_, task) = fetch(&scene, &scene.key, &id).await;
    assert_eq!(task["buttons"][0]["label"], json!("U1"), "{task}");
    // Replayed after the end: the channel is not asked again, nothing changes.
    let (code, _) = notify(&scene, &forged).await;
    assert_eq!(code, 200);
    assert_eq!(scene.mock.polls(&id), 2);

    // A task failing through a callback is refunded once, however often the callback comes.
    let (_, failing) = submit(
        &scene,
        &scene.key,
        "/mj/submit/imagine",
        json!({"prompt": "please fail"}),
    )
    .await;
    let failing = failing["result"].as_str().expect("id").to_string();
    eventually_balances(&scene, (charged.0 - IMAGINE, charged.1 - IMAGINE)).await;
    let failure = json!({"id": failing, "status": "FAILURE", "progress": "100%"}).to_string();
    let replies = tokio::join!(
        notify(&scene, &failure),
        notify(&scene, &failure),
        notify(&scene, &failure)
    );
    let replies = [replies.0, replies.1, replies.2];
    assert!(replies.iter().all(|(code, _)| *code == 200), "{replies:?}");
    let (status, _, _, reason) = stored(&scene, &failing).await;
    assert_eq!(
        (status.as_str(), reason.as_str()),
        ("FAILURE", "banned prompt")
    );
    eventually_balances(&scene, charged).await;
    let (code, _) = notify(&scene, &failure).await;
    assert_eq!(code, 200);
    let refunds = "SELECT COUNT(*) FROM logs WHERE type = 6 AND content LIKE ?";
    assert_eq!(
        count_of(&scene.pool, refunds, &format!("%{failing}%")).await,
        1
    );
    assert_eq!(balances(&scene).await, charged);

    // Refused: malformed, unknown, without an id; nothing asked, nothing changed.
    let polls = scene.mock.polls(&id) + scene.mock.polls(&failing);
    let refused = |description: &str| json!({"description": format!("{description} "), "type": "upstream_error", "code": 4});
    assert_eq!(
        notify(&scene, "{not json").await,
        (400, refused("bind_request_body_failed"))
    );
    assert_eq!(
        notify(&scene, r#"{"id": "1699999999"}"#).await,
        (400, refused("midjourney_task_not_found"))
    );
    assert_eq!(
        notify(&scene, r#"{"status": "FAILURE"}"#).await,
        (400, refused("midjourney_task_not_found"))
    );
    assert_eq!(scene.mock.polls(&id) + scene.mock.polls(&failing), polls);
    assert_eq!(balances(&scene).await, charged);
    assert_eq!(scene.mock.bad_keys(), 0);

    // Switched off: callbacks are refused (the control plane follows the option).
    set_option(&scene.root, "MjNotifyEnabled", "false").await;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (code, answer) = notify(&scene, &forged).await;
        if code == 403 {
            assert_eq!(answer, refused("mj_notify_disabled"));
            break;
        }
        assert!(Instant::now() < deadline, "callbacks still taken: {answer}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

on_every_backend!(callbacks_move_tasks_as_their_channel_says_and_refund_once);

/// `GET /mj/image/{id}` as (status, body).
async fn image(scene: &Scene, id: &str) -> (u16, bytes::Bytes) {
    let answer = reqwest::get(format!("{}/mj/image/{id}", scene.pylon.base_url))
        .await
        .expect("proxy reachable");
    let status = answer.status().as_u16();
    (status, answer.bytes().await.expect("body"))
}

async fn set_image_url(scene: &Scene, id: &str, url: &str) {
    sqlx::query("UPDATE midjourneys SET image_url = ? WHERE mj_id = ?")
        .bind(url)
        .bind(id)
        .execute(&scene.pool)
        .await
        .expect("update");
}

async fn image_urls_are_held_to_the_fetch_settings(backend: Backend) {
    // new-api's defaults: SSRF protection on, no private addresses, ports 80/443/8080/8443.
    let scene = scene_with(backend, "100", |_| Vec::new()).await;
    let (_, accepted) = submit(
        &scene,
        &scene.key,
        "/mj/submit/imagine",
        json!({"prompt": "a fox"}),
    )
    .await;
    let id = accepted["result"].as_str().expect("id").to_string();
    eventually_status(&scene, &id, "SUCCESS").await;

    // The upstream's image URL is on 127.0.0.1: refused, and never fetched.
    let (code, body) = image(&scene, &id).await;
    assert_eq!(code, 403, "{body:?}");
    let error: Value = serde_json::from_slice(&body).expect("json");
    let message = error["error"].as_str().expect("error").to_string();
    assert!(message.starts_with("request blocked: "), "{message}");
    assert_eq!(scene.mock.images(), 0);

    // The operator allows private addresses and the mock's port, through the admin API: the
    // proxy follows (within the change feed's bound) and streams the image.
    set_option(&scene.root, "fetch_setting.allow_private_ip", "true").await;
    let ports = format!("[\"{}\"]", scene.mock.port());
    set_option(&scene.root, "fetch_setting.allowed_ports", &ports).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (code, body) = image(&scene, &id).await;
        if code == 200 {
            assert_eq!(body.as_ref(), IMAGE);
            break;
        }
        assert_eq!(code, 403, "{body:?}");
        assert!(Instant::now() < deadline, "the proxy kept refusing");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // Private addresses refused again: a name resolving to loopback is refused too.
    set_option(&scene.root, "fetch_setting.allow_private_ip", "false").await;
    let by_name = format!("http://localhost:{}/images/{id}.png", scene.mock.port());
    set_image_url(&scene, &id, &by_name).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (code, body) = image(&scene, &id).await;
        if code == 403 {
            let error: Value = serde_json::from_slice(&body).expect("json");
            assert!(
                error["error"]
                    .as_str()
                    .is_some_and(|e| e.contains("localhost")),
                "{error}"
            );
            break;
        }
        assert!(
            Instant::now() < deadline,
            "a loopback name was fetched: {code}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // Every hop of a redirect is checked: the first hop by name (names' addresses unchecked),
    // redirecting to 127.0.0.1, which the IP deny list names.
    set_option(&scene.root, "fetch_setting.allow_private_ip", "true").await;
    set_option(
        &scene.root,
        "fetch_setting.apply_ip_filter_for_domain",
        "false",
    )
    .await;
    set_option(&scene.root, "fetch_setting.ip_list", "[\"127.0.0.1\"]").await;
    let direct = format!("{}/images/{id}.png", scene.mock.base_url);
    let hop = format!(
        "http://localhost:{}/redirect?to={}",
        scene.mock.port(),
        url::form_urlencoded::byte_serialize(direct.as_bytes()).collect::<String>()
    );
    set_image_url(&scene, &id, &hop).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        // Refused at the redirect, the fetch fails (new-api's `http_get_image_failed`).
        let redirects = scene.mock.redirects();
        let (code, body) = image(&scene, &id).await;
        if code == 500 && scene.mock.redirects() > redirects {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the redirect was followed: {code} {body:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let served = scene.mock.images();
    assert_eq!(image(&scene, &id).await.0, 500);
    assert_eq!(
        scene.mock.images(),
        served,
        "the refused image was not fetched"
    );
}

on_every_backend!(image_urls_are_held_to_the_fetch_settings);

async fn changed_options_reach_the_proxy(backend: Backend) {
    let scene = scene(backend).await;
    let (_, accepted) = submit(
        &scene,
        &scene.key,
        "/mj/submit/imagine",
        json!({"prompt": "an owl"}),
    )
    .await;
    let id = accepted["result"].as_str().expect("id").to_string();
    let done = eventually_status(&scene, &id, "SUCCESS").await;
    assert_eq!(
        done["imageUrl"],
        json!(format!("https://pylon.example/mj/image/{id}"))
    );
    // Through the admin API; the proxy reads its snapshot, kept current by the change feed.
    set_option(&scene.root, "MjForwardUrlEnabled", "false").await;
    set_option(&scene.root, "ServerAddress", "https://other.example").await;
    let upstream_url = json!(format!("{}/images/{id}.png", scene.mock.base_url));
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (_, task) = fetch(&scene, &scene.key, &id).await;
        if task["imageUrl"] == upstream_url {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the proxy kept the old option: {task}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    set_option(&scene.root, "MjForwardUrlEnabled", "true").await;
    let forwarded = json!(format!("https://other.example/mj/image/{id}"));
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (_, task) = fetch(&scene, &scene.key, &id).await;
        if task["imageUrl"] == forwarded {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the proxy kept the old option: {task}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // MjNotifyEnabled too: the next submission carries the new address's hook.
    set_option(&scene.root, "MjNotifyEnabled", "true").await;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (_, accepted) = submit(
            &scene,
            &scene.key,
            "/mj/submit/imagine",
            json!({"prompt": "another owl"}),
        )
        .await;
        assert_eq!(accepted["code"], json!(1), "{accepted}");
        let sent = scene.mock.submitted();
        let last = sent.last().expect("submitted");
        if last.body["notifyHook"] == json!("https://other.example/mj/notify") {
            break;
        }
        assert!(last.body.get("notifyHook").is_none(), "{:?}", last.body);
        assert!(Instant::now() < deadline, "the proxy never passed the hook");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

on_every_backend!(changed_options_reach_the_proxy);
