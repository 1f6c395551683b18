//! new-api's playground, `POST /pg/chat/completions`, on SQLite and on MySQL + Redis: a console
//! user signed in with a real login chats without an `sk-` key, streamed and not; the request
//! reaches the upstream as `/v1/chat/completions` (no cookie, no `group` field), is billed to
//! the user and logged like a key request, its key `playground-<group>` (id 0) as new-api logs
//! it. Without a valid session (none, another user named, an access token, after logout) it is
//! refused with new-api's answer and reaches no upstream; a group the user may not use, or a
//! balance that cannot pay, is refused too.

use pylon_tests::canned_upstream::{Canned, CannedUpstream};
use pylon_tests::fixtures::*;
use pylon_tests::user_admin_fixtures::{PASSWORD, funded_user, logged_in};
use pylon_tests::{Backend, Console, Pylon, on_every_backend};
use serde_json::{Value, json};

const MODEL: &str = "gpt-playground";
/// Quota of one request: `ModelPrice` 0.0002 USD × 500 000.
const PER_REQUEST: i64 = 100;
const START_QUOTA: i64 = 1_000_000;

fn answer(_path: &str, stream: bool) -> Canned {
    let usage = json!({"prompt_tokens": 4, "completion_tokens": 3, "total_tokens": 7});
    Canned::openai_chat(MODEL, "Hey", &usage, stream)
}

fn chat(stream: bool) -> Value {
    json!({"model": MODEL, "stream": stream, "messages": [{"role": "user", "content": "hi"}]})
}

/// Signs `name` in through the login route; answers the session cookie (`session=...`).
async fn session_cookie(pylon: &Pylon, name: &str) -> String {
    let answer = reqwest::Client::new()
        .post(format!("{}/api/user/login", pylon.base_url))
        .json(&json!({"username": name, "password": PASSWORD}))
        .send()
        .await
        .expect("login");
    answer
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("session="))
        .and_then(|v| v.split(';').next())
        .expect("a session cookie")
        .to_string()
}

/// Asserts a refusal in new-api's envelope with `status`, saying `message`.
fn console_refusal((status, body): &(u16, String), expected_status: u16, message: &str) {
    assert_eq!(*status, expected_status, "{body}");
    let body: Value = serde_json::from_str(body).expect("JSON refusal");
    assert_eq!(body["success"], false, "{body}");
    assert_eq!(body["message"], message, "{body}");
}

/// Asserts a refusal in OpenAI's error shape with `status` and `code`.
fn relay_refusal((status, body): &(u16, String), expected_status: u16, code: &str) -> Value {
    assert_eq!(*status, expected_status, "{body}");
    let body: Value = serde_json::from_str(body).expect("JSON error");
    assert_eq!(body["error"]["code"], code, "{body}");
    body
}

async fn the_playground_relays_for_the_signed_in_user(backend: Backend) {
    let upstream = CannedUpstream::start(answer).await;
    let pylon = Pylon::start(backend).await;
    let root = root_console(&pylon).await;
    let db = database(&pylon).await;
    set_option(&root, "ModelPrice", &json!({ MODEL: 0.0002 }).to_string()).await;
    create_channel(
        &root,
        openai_channel("pg-upstream", &upstream.base_url, MODEL),
    )
    .await;
    // The proxy routes the model once it holds the channel (a key of root's tells when).
    let (_, probe) = create_key(&root, "probe", 0, true).await;
    wait_until_routable(&pylon, &probe, MODEL).await;
    let (pat, pat_id) = funded_user(&pylon, &root, "pat", START_QUOTA).await;

    // Not streamed, then streamed: answered, sent upstream as the relay's chat completions.
    let (status, body) = pat.post_text("/pg/chat/completions", &chat(false)).await;
    assert_eq!(status, 200, "{body}");
    let answered: Value = serde_json::from_str(&body).expect("JSON answer");
    assert_eq!(answered["choices"][0]["message"]["content"], "Hey");
    let sent = upstream.last();
    assert_eq!(sent.uri, "/v1/chat/completions");
    assert!(
        sent.headers.get("cookie").is_none(),
        "the session stays here"
    );
    assert!(sent.headers.get("new-api-user").is_none());
    let (status, body) = pat
        .post_text(
            "/pg/chat/completions",
            &json!({"model": MODEL, "stream": true, "group": "default",
                "messages": [{"role": "user", "content": "hi"}]}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert!(
        body.contains("\"Hey\"") && body.contains("data: [DONE]"),
        "{body}"
    );
    let sent = upstream.last().json.expect("JSON body");
    assert!(
        sent.get("group").is_none(),
        "group is not sent upstream: {sent}"
    );
    assert_eq!(sent["messages"][0]["content"], "hi");

    // Billed to the user and logged like a key request, as the playground's key.
    let logged = "SELECT COUNT(*) FROM logs WHERE type = 2 AND user_id = ? \
                  AND token_id = 0 AND token_name = 'playground-default'";
    eventually_of(&db, logged, pat_id, 2).await;
    eventually_of(
        &db,
        "SELECT quota FROM users WHERE id = ?",
        pat_id,
        START_QUOTA - 2 * PER_REQUEST,
    )
    .await;
    assert_eq!(
        scalar_of(
            &db,
            "SELECT CAST(SUM(quota) AS SIGNED) FROM logs WHERE type = 2 AND user_id = ?",
            pat_id
        )
        .await,
        2 * PER_REQUEST
    );
    assert_eq!(
        scalar_of(
            &db,
            "SELECT CAST(SUM(is_stream) AS SIGNED) FROM logs WHERE type = 2 AND user_id = ?",
            pat_id
        )
        .await,
        1
    );
    let own = pat.get("/api/log/self?type=2").await;
    assert!(own.success(), "{own:?}");
    assert_eq!(own.data()["items"][0]["token_name"], "playground-default");
    let stats = pat.get("/api/usage/stats").await;
    assert_eq!(stats.data()["requestCount"], 2, "{stats:?}");
    let calls = upstream.received().len();

    // Groups: one the user may not use is refused; a usable one without a channel finds none;
    // a group that is not a string is a bad request.
    let nope = pat
        .post_text(
            "/pg/chat/completions",
            &json!({"model": MODEL, "group": "nope", "messages": [{"role": "user", "content": "x"}]}),
        )
        .await;
    let refused = relay_refusal(&nope, 403, "permission_denied");
    assert!(
        refused["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("nope")
    );
    let vip = pat
        .post_text(
            "/pg/chat/completions",
            &json!({"model": MODEL, "group": "vip", "messages": [{"role": "user", "content": "x"}]}),
        )
        .await;
    relay_refusal(&vip, 404, "model_not_found");
    let number = pat
        .post_text(
            "/pg/chat/completions",
            &json!({"model": MODEL, "group": 5, "messages": [{"role": "user", "content": "x"}]}),
        )
        .await;
    assert_eq!(number.0, 400, "{}", number.1);
    let malformed = pat
        .post_text("/pg/chat/completions", &json!("not an object"))
        .await;
    assert_eq!(malformed.0, 400, "{}", malformed.1);

    // Without a valid session: new-api's UserAuth answers.
    let anonymous = Console::new(&pylon.base_url);
    console_refusal(
        &anonymous
            .post_text("/pg/chat/completions", &chat(false))
            .await,
        401,
        "Unauthorized, not logged in and no access token provided",
    );
    let mut unnamed = logged_in(&pylon, "pat").await;
    unnamed.user_id = None;
    console_refusal(
        &unnamed
            .post_text("/pg/chat/completions", &chat(false))
            .await,
        401,
        "Unauthorized, New-Api-User header not provided",
    );
    unnamed.user_id = Some(pat_id + 1000);
    console_refusal(
        &unnamed
            .post_text("/pg/chat/completions", &chat(false))
            .await,
        401,
        "Unauthorized, New-Api-User does not match the logged-in user",
    );
    let token = pat.get("/api/user/token").await;
    let mut with_token = Console::new(&pylon.base_url);
    with_token.bearer = Some(token.data().as_str().expect("access token").to_string());
    with_token.user_id = Some(pat_id);
    assert!(
        with_token.get("/api/user/self").await.success(),
        "the token itself is valid"
    );
    relay_refusal(
        &with_token
            .post_text("/pg/chat/completions", &chat(false))
            .await,
        403,
        "access_denied",
    );
    let mut forged = Console::new(&pylon.base_url);
    forged.user_id = Some(pat_id);
    let forged_cookie = reqwest::Client::new()
        .post(format!("{}/pg/chat/completions", pylon.base_url))
        .header("Cookie", "session=eyJhbGciOiJIUzI1NiJ9.eyJ1aWQiOjF9.bad")
        .header("New-Api-User", pat_id.to_string())
        .json(&chat(false))
        .send()
        .await
        .expect("proxy");
    assert_eq!(forged_cookie.status(), 401);

    // A balance that cannot pay is refused like a key's.
    let (broke, broke_id) = funded_user(&pylon, &root, "broke", 0).await;
    let poor = broke.post_text("/pg/chat/completions", &chat(false)).await;
    relay_refusal(&poor, 429, "insufficient_quota");

    // A session revoked by logout is refused at once, its cookie replayed as it was.
    let cookie = session_cookie(&pylon, "pat").await;
    let with_cookie = |path: &str| {
        reqwest::Client::new()
            .post(format!("{}{path}", pylon.base_url))
            .header("Cookie", cookie.clone())
            .header("New-Api-User", pat_id.to_string())
    };
    let before = with_cookie("/pg/chat/completions")
        .json(&chat(false))
        .send()
        .await
        .expect("proxy");
    assert_eq!(before.status(), 200);
    let logout = reqwest::Client::new()
        .get(format!("{}/api/user/logout", pylon.base_url))
        .header("Cookie", cookie.clone())
        .send()
        .await
        .expect("logout");
    assert_eq!(logout.status(), 200);
    let after = with_cookie("/pg/chat/completions")
        .json(&chat(false))
        .send()
        .await
        .expect("proxy");
    let status = after.status().as_u16();
    let body = after.text().await.expect("body");
    console_refusal(
        &(status, body),
        401,
        "Unauthorized, not logged in and no access token provided",
    );

    // No refusal reached the upstream or billed anything.
    assert_eq!(
        upstream.received().len(),
        calls + 1,
        "only the last signed-in request"
    );
    eventually_of(&db, logged, pat_id, 3).await;
    assert_eq!(
        scalar_of(
            &db,
            "SELECT COUNT(*) FROM logs WHERE type = 2 AND user_id = ?",
            broke_id
        )
        .await,
        0
    );
    // Other paths under /pg are not relayed.
    let other = pat.post_text("/pg/other", &chat(false)).await;
    assert_eq!(other.0, 404, "{}", other.1);
    db.close().await;
}
on_every_backend!(the_playground_relays_for_the_signed_in_user);
