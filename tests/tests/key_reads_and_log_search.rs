//! new-api's log searches and the routes that read keys, on SQLite and on MySQL + Redis, with
//! the control plane served in this process: `GET /api/log/search` (administrators: a log type
//! or the start of a row's text), `GET /api/log/self/search` (a user's own rows of a type),
//! `GET /api/log/token` (a key reads its own rows, authenticated by the key, open to any web
//! page) and `POST /api/token/batch/keys` (the full keys of several of the caller's keys;
//! other users' ids never leak). Every search reads an index or a bounded range of the primary
//! key, as the databases' plans show; refusals change nothing.

use pylon_shared::db::{LOG_TYPE_CONSUME, LOG_TYPE_TOPUP, LogFilter, RelayRecord, now_secs};
use pylon_tests::client::Answer;
use pylon_tests::in_process::InProcess;
use pylon_tests::user_admin_fixtures::{INSUFFICIENT, PASSWORD, create_user, sk_key};
use pylon_tests::{Backend, Console, on_every_backend};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// A settled request of `user` through key `token` whose text is `content`.
fn request(n: i64, user: (i64, &str), token: (i64, &str), content: &str) -> RelayRecord {
    RelayRecord {
        request_id: format!("search-{n}"),
        created_at: now_secs() - 100 + n,
        log_type: LOG_TYPE_CONSUME,
        user_id: user.0,
        username: user.1.to_string(),
        token_id: token.0,
        token_name: token.1.to_string(),
        channel_id: 1,
        group: "default".into(),
        model_name: "gpt-4o".into(),
        content: content.to_string(),
        other: "{}".into(),
        ..RelayRecord::default()
    }
}

async fn logged_in(base_url: &str, username: &str) -> Console {
    let mut console = Console::new(base_url);
    console.login(username, PASSWORD).await;
    console
}

/// The id of `console`'s key named `name`.
async fn key_id(console: &Console, name: &str) -> i64 {
    let list = console.get("/api/token/?p=1&page_size=100").await;
    list.data()["items"]
        .as_array()
        .and_then(|items| items.iter().find(|t| t["name"] == json!(name)))
        .and_then(|t| t["id"].as_i64())
        .unwrap_or_else(|| panic!("key {name} not listed: {list:?}"))
}

/// `GET /api/log/token` with `authorization` (and an `Origin`, as a browser sends it).
async fn logs_of_key(base_url: &str, authorization: Option<&str>) -> (StatusCode, Value, String) {
    let mut request = reqwest::Client::new()
        .get(format!("{base_url}/api/log/token"))
        .header("Origin", "https://tool.example");
    if let Some(value) = authorization {
        request = request.header("Authorization", value);
    }
    let answer = request.send().await.unwrap();
    let status = answer.status();
    let allow_origin = answer
        .headers()
        .get("access-control-allow-origin")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    (
        status,
        answer.json().await.unwrap_or(Value::Null),
        allow_origin,
    )
}

fn ids_of(rows: &Value) -> Vec<i64> {
    rows.as_array()
        .expect("a list of rows")
        .iter()
        .map(|row| row["id"].as_i64().expect("id"))
        .collect()
}

fn contents(answer: &Answer) -> Vec<String> {
    answer
        .data()
        .as_array()
        .expect("a list of rows")
        .iter()
        .map(|row| row["content"].as_str().unwrap_or_default().to_string())
        .collect()
}

fn refused(answer: &Answer, context: &str) {
    assert!(!answer.success(), "{context}: {answer:?}");
    assert!(
        answer.body.get("data").is_none_or(Value::is_null),
        "{context}: {answer:?}"
    );
}

async fn key_reads_and_log_searches(backend: Backend) {
    let plane = InProcess::start(backend).await;
    let base = plane.base_url.clone();
    let mut root = Console::new(&base);
    root.setup_root("root", PASSWORD).await;
    root.login("root", PASSWORD).await;
    let alice_id = create_user(&root, "alice", 1).await;
    let bob_id = create_user(&root, "bob", 1).await;
    create_user(&root, "admin1", 10).await;
    let alice = logged_in(&base, "alice").await;
    let bob = logged_in(&base, "bob").await;
    let admin = logged_in(&base, "admin1").await;
    let anonymous = Console::new(&base);

    let alice_key = sk_key(&alice, "a1").await;
    let alice_spare = sk_key(&alice, "a2").await;
    let bob_key = sk_key(&bob, "b1").await;
    let (a1, a2, b1) = (
        key_id(&alice, "a1").await,
        key_id(&alice, "a2").await,
        key_id(&bob, "b1").await,
    );

    let db = &plane.state.db;
    let alice_user = (alice_id, "alice");
    let bob_user = (bob_id, "bob");
    db.apply_relay_records(&[
        request(1, alice_user, (a1, "a1"), "call one"),
        request(2, alice_user, (a1, "a1"), "100% done"),
        request(3, alice_user, (a2, "a2"), "1000 tokens"),
        request(4, bob_user, (b1, "b1"), "call two"),
        request(5, alice_user, (a1, "a1"), "call three"),
    ])
    .await
    .expect("logs written");
    db.record_log(alice_id, LOG_TYPE_TOPUP, "Top-up of 5 USD", 0)
        .await
        .expect("top-up logged");
    db.record_log(bob_id, LOG_TYPE_TOPUP, "Top-up of 7 USD", 0)
        .await
        .expect("top-up logged");

    // A key reads its own rows, newest first, from any web page.
    let (status, body, allow_origin) =
        logs_of_key(&base, Some(&format!("Bearer {alice_key}"))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["success"], json!(true), "{body}");
    assert_eq!(allow_origin, "*");
    let rows = body["data"].as_array().unwrap();
    assert_eq!(rows.len(), 3, "{body}");
    assert!(rows.iter().all(|r| r["token_id"] == json!(a1)), "{body}");
    let ids = ids_of(&body["data"]);
    assert!(ids.windows(2).all(|w| w[0] > w[1]), "newest first: {ids:?}");
    // new-api's spellings of the key: without `Bearer `, without `sk-`, with a channel suffix.
    for spelling in [
        alice_spare.clone(),
        alice_spare.trim_start_matches("sk-").to_string(),
        format!("Bearer {alice_spare}-3"),
    ] {
        let (status, body, _) = logs_of_key(&base, Some(&spelling)).await;
        assert_eq!(status, StatusCode::OK, "{spelling}: {body}");
        assert_eq!(contents_of(&body), vec!["1000 tokens"], "{spelling}");
    }
    // The browser's preflight.
    let preflight = reqwest::Client::new()
        .request(Method::OPTIONS, format!("{base}/api/log/token"))
        .header("Origin", "https://tool.example")
        .header("Access-Control-Request-Method", "GET")
        .header("Access-Control-Request-Headers", "authorization")
        .send()
        .await
        .unwrap();
    assert_eq!(preflight.status(), StatusCode::NO_CONTENT);
    let header = |name: &str| {
        preflight
            .headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_string())
    };
    assert_eq!(header("access-control-allow-origin").as_deref(), Some("*"));
    assert_eq!(
        header("access-control-allow-headers").as_deref(),
        Some("authorization")
    );
    assert!(
        header("access-control-allow-methods")
            .unwrap()
            .contains("GET")
    );
    // No key, an unknown key, a session instead of a key: refused.
    for (authorization, expected) in [
        (None, StatusCode::UNAUTHORIZED),
        (Some("Bearer sk-notakey"), StatusCode::UNAUTHORIZED),
        (Some("Bearer "), StatusCode::UNAUTHORIZED),
    ] {
        let (status, body, _) = logs_of_key(&base, authorization).await;
        assert_eq!(status, expected, "{authorization:?}: {body}");
        assert_eq!(body["success"], json!(false));
        assert!(body.get("data").is_none_or(Value::is_null), "{body}");
    }
    let by_session = alice.get("/api/log/token").await;
    assert_eq!(
        by_session.status,
        StatusCode::UNAUTHORIZED,
        "{by_session:?}"
    );
    // A disabled key, then a banned owner.
    let disabled = alice
        .send(
            Method::PUT,
            "/api/token/?status_only=true",
            Some(json!({"id": a2, "status": 2}).to_string()),
        )
        .await;
    assert!(disabled.success(), "{disabled:?}");
    let (status, _, _) = logs_of_key(&base, Some(&format!("Bearer {alice_spare}"))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let banned = root
        .post(
            "/api/user/manage",
            json!({"id": bob_id, "action": "disable"}),
        )
        .await;
    assert!(banned.success(), "{banned:?}");
    let (status, body, _) = logs_of_key(&base, Some(&format!("Bearer {bob_key}"))).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(body.get("data").is_none_or(Value::is_null), "{body}");

    // A user searches their own rows by type.
    let own = alice.get("/api/log/self/search?keyword=2").await;
    assert!(own.success(), "{own:?}");
    assert_eq!(
        contents(&own),
        vec!["call three", "1000 tokens", "100% done", "call one"]
    );
    let top_ups = alice.get("/api/log/self/search?keyword=1").await;
    assert_eq!(contents(&top_ups), vec!["Top-up of 5 USD"], "{top_ups:?}");
    let none = alice.get("/api/log/self/search?keyword=5").await;
    assert_eq!(none.data(), &json!([]), "{none:?}");
    for (query, reason) in [
        ("keyword=call", "a user's keyword is a log type"),
        ("", "no keyword"),
    ] {
        refused(
            &alice.get(&format!("/api/log/self/search?{query}")).await,
            reason,
        );
    }
    let long = format!("/api/log/self/search?keyword={}", "9".repeat(129));
    refused(&alice.get(&long).await, "a keyword over 128 bytes");
    assert_eq!(
        anonymous.get("/api/log/self/search?keyword=2").await.status,
        StatusCode::UNAUTHORIZED
    );

    // Administrators search everyone's rows by type or by the start of the text.
    let by_type = admin.get("/api/log/search?keyword=1").await;
    assert!(by_type.success(), "{by_type:?}");
    // Type 1 (the top-ups) and the rows whose text starts with "1".
    assert_eq!(
        contents(&by_type),
        vec![
            "Top-up of 7 USD",
            "Top-up of 5 USD",
            "1000 tokens",
            "100% done"
        ]
    );
    let by_text = admin.get("/api/log/search?keyword=call").await;
    assert_eq!(
        contents(&by_text),
        vec!["call three", "call two", "call one"],
        "{by_text:?}"
    );
    // `%` and `_` in a keyword are text, not patterns.
    let literal = admin.get("/api/log/search?keyword=100%25").await;
    assert_eq!(contents(&literal), vec!["100% done"], "{literal:?}");
    let underscore = admin.get("/api/log/search?keyword=c_ll").await;
    assert_eq!(underscore.data(), &json!([]), "{underscore:?}");
    refused(
        &admin.get(&long.replace("/self", "")).await,
        "a keyword over 128 bytes",
    );
    let answer = alice.get("/api/log/search?keyword=call").await;
    refused(&answer, "a common user");
    assert_eq!(answer.message(), INSUFFICIENT);
    assert_eq!(
        anonymous.get("/api/log/search?keyword=call").await.status,
        StatusCode::UNAUTHORIZED
    );

    // The full keys of several of the caller's keys; another user's and unknown ids are absent.
    let keys = alice
        .send(
            Method::POST,
            "/api/token/batch/keys",
            Some(json!({"ids": [a1, a2, b1, 999_999]}).to_string()),
        )
        .await;
    assert!(keys.success(), "{keys:?}");
    let mut expected = serde_json::Map::new();
    expected.insert(a1.to_string(), json!(alice_key.trim_start_matches("sk-")));
    expected.insert(a2.to_string(), json!(alice_spare.trim_start_matches("sk-")));
    assert_eq!(keys.data()["keys"], Value::Object(expected));
    assert_eq!(keys.status, StatusCode::OK, "{keys:?}");
    let only_others = alice
        .post("/api/token/batch/keys", json!({"ids": [b1]}))
        .await;
    assert_eq!(only_others.data()["keys"], json!({}), "{only_others:?}");
    let raw = reqwest::Client::new()
        .post(format!("{base}/api/token/batch/keys"))
        .json(&json!({"ids": [a1]}))
        .send()
        .await
        .unwrap();
    assert_eq!(raw.status(), StatusCode::UNAUTHORIZED);
    let too_many: Vec<i64> = (1..=101).collect();
    for (body, reason) in [
        (json!({"ids": []}).to_string(), "no ids"),
        (json!({}).to_string(), "no ids field"),
        ("{oops".to_string(), "malformed"),
        (json!({"ids": ["a"]}).to_string(), "ids that are no numbers"),
        (json!({"ids": too_many}).to_string(), "over 100 ids"),
    ] {
        let answer = alice
            .send(Method::POST, "/api/token/batch/keys", Some(body))
            .await;
        refused(&answer, reason);
    }

    // Every search reads an index or a bounded range of the primary key.
    let (newest, content) = db
        .explain_log_search(&LogFilter {
            log_type: LOG_TYPE_TOPUP,
            ..LogFilter::default()
        })
        .await
        .expect("plans");
    let mut plans = vec![newest, content];
    for filter in [
        LogFilter {
            user_id: Some(alice_id),
            log_type: LOG_TYPE_CONSUME,
            ..LogFilter::default()
        },
        LogFilter {
            token_id: a1,
            ..LogFilter::default()
        },
    ] {
        plans.push(db.explain_logs_page(&filter).await.expect("plan"));
    }
    for plan in &plans {
        let indexed = pylon_tests::query_plans::reads_through_index(backend, plan);
        assert!(indexed, "not read through an index: {plan:?}");
    }
}
on_every_backend!(key_reads_and_log_searches);

fn contents_of(body: &Value) -> Vec<String> {
    body["data"]
        .as_array()
        .expect("a list of rows")
        .iter()
        .map(|row| row["content"].as_str().unwrap_or_default().to_string())
        .collect()
}

/// Through the proxy, as a browser on another site calls it: the preflight and the read.
async fn key_reads_its_logs_through_the_proxy(backend: Backend) {
    let pylon = pylon_tests::Pylon::start(backend).await;
    let root = pylon_tests::fixtures::root_console(&pylon).await;
    let key = sk_key(&root, "browser").await;
    let client = reqwest::Client::new();
    let url = format!("{}/api/log/token", pylon.base_url);
    let preflight = client
        .request(Method::OPTIONS, &url)
        .header("Origin", "https://tool.example")
        .header("Access-Control-Request-Method", "GET")
        .header("Access-Control-Request-Headers", "authorization")
        .send()
        .await
        .unwrap();
    assert_eq!(preflight.status(), StatusCode::NO_CONTENT);
    assert_eq!(preflight.headers()["access-control-allow-origin"], "*");
    assert_eq!(
        preflight.headers()["access-control-allow-headers"],
        "authorization"
    );
    let read = client
        .get(&url)
        .header("Origin", "https://tool.example")
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(read.status(), StatusCode::OK);
    assert_eq!(read.headers()["access-control-allow-origin"], "*");
    let body: Value = read.json().await.unwrap();
    assert_eq!(body["success"], json!(true), "{body}");
    assert_eq!(body["data"], json!([]), "{body}");
    // The key's usage is open to other sites the same way.
    let usage_url = format!("{}/api/usage/token/", pylon.base_url);
    let preflight = client
        .request(Method::OPTIONS, &usage_url)
        .header("Origin", "https://tool.example")
        .header("Access-Control-Request-Method", "GET")
        .send()
        .await
        .unwrap();
    assert_eq!(preflight.status(), StatusCode::NO_CONTENT);
    assert_eq!(preflight.headers()["access-control-allow-origin"], "*");
    let usage = client
        .get(&usage_url)
        .header("Origin", "https://tool.example")
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(usage.status(), StatusCode::OK);
    assert_eq!(usage.headers()["access-control-allow-origin"], "*");
    let body: Value = usage.json().await.unwrap();
    assert_eq!(body["data"]["name"], json!("browser"), "{body}");
}
on_every_backend!(key_reads_its_logs_through_the_proxy);
