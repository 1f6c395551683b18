//! The admin channel API through port 3000 as new-api's console uses it: create (single, batch,
//! plain object), list with pagination and filters, search, get, update, delete (one, batch,
//! disabled), the abilities table kept in step in the same transaction, keys never shown, the
//! change feed, testing against mock upstreams (success, 401, 500, re-enabling a channel
//! disabled automatically, testing all), the balance query, bad input and common users refused.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode as AxumStatus};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use pylon_tests::client::Answer;
use pylon_tests::fixtures::{console_with_role, database, root_console};
use pylon_tests::{Backend, Console, Pylon, on_every_backend};
use reqwest::Method;
use serde_json::{Value, json};
use sqlx::AnyPool;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

type Ability = (String, String, i64, i64, i64, i64, String);

async fn put(console: &Console, path: &str, body: Value) -> Answer {
    console
        .send(Method::PUT, path, Some(body.to_string()))
        .await
}

async fn delete(console: &Console, path: &str) -> Answer {
    console.send(Method::DELETE, path, None).await
}

/// Creates channels and returns their ids.
async fn create(console: &Console, body: Value) -> Vec<i64> {
    let answer = console.post("/api/channel/", body).await;
    assert!(answer.success(), "create failed: {answer:?}");
    answer
        .data()
        .as_array()
        .expect("ids")
        .iter()
        .map(|id| id.as_i64().unwrap())
        .collect()
}

async fn abilities(pool: &AnyPool, channel: i64) -> Vec<Ability> {
    sqlx::query_as(
        "SELECT `group`, model, channel_id, enabled, priority, weight, tag FROM abilities \
         WHERE channel_id = ? ORDER BY `group`, model",
    )
    .bind(channel)
    .fetch_all(pool)
    .await
    .unwrap()
}

async fn count(pool: &AnyPool, sql: &str) -> i64 {
    sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_string()))
        .fetch_one(pool)
        .await
        .unwrap()
}

/// Asserts that no answer anywhere in `value` carries a non-empty `key`.
fn assert_no_keys(value: &Value) {
    match value {
        Value::Object(map) => {
            if let Some(key) = map.get("key") {
                assert_eq!(key, &json!(""), "a key was returned: {value}");
            }
            map.values().for_each(assert_no_keys);
        }
        Value::Array(items) => items.iter().for_each(assert_no_keys),
        _ => {}
    }
    assert!(
        !value.to_string().contains("sk-secret"),
        "key text leaked: {value}"
    );
}

async fn channel_lifecycle(backend: Backend) {
    let pylon = Pylon::start(backend).await;
    let pool = database(&pylon).await;
    let root = root_console(&pylon).await;

    // new-api's wrapped single mode: one channel holding both keys.
    let ids = create(
        &root,
        json!({"mode": "single", "channel": {
            "name": "alpha", "type": 1, "key": "sk-secret-a1\nsk-secret-a2",
            "base_url": "https://alpha.example/", "models": "gpt-4o,gpt-4o-mini",
            "group": "default,vip", "priority": 5, "weight": 3, "tag": "t1",
            "model_mapping": "{\"gpt-4o\": \"gpt-4o-2024\"}", "multi_key_mode": "polling"
        }}),
    )
    .await;
    let alpha = ids[0];
    let row = root.get(&format!("/api/channel/{alpha}")).await;
    assert!(row.success(), "{row:?}");
    assert_no_keys(&row.body);
    let data = row.data();
    assert_eq!(data["name"], json!("alpha"));
    assert_eq!(data["base_url"], json!("https://alpha.example"));
    assert_eq!(data["key_mode"], json!("round_robin"));
    assert_eq!(data["channel_info"]["multi_key_size"], json!(2));
    assert_eq!(data["channel_info"]["multi_key_mode"], json!("polling"));
    assert_eq!(data["status"], json!(1));
    let stored: String = sqlx::query_scalar("SELECT `keys` FROM channels WHERE id = ?")
        .bind(alpha)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(stored, "sk-secret-a1\nsk-secret-a2");
    let expected: Vec<Ability> = [
        ("default", "gpt-4o"),
        ("default", "gpt-4o-mini"),
        ("vip", "gpt-4o"),
        ("vip", "gpt-4o-mini"),
    ]
    .iter()
    .map(|(g, m)| {
        (
            g.to_string(),
            m.to_string(),
            alpha,
            1,
            5,
            3,
            "t1".to_string(),
        )
    })
    .collect();
    assert_eq!(abilities(&pool, alpha).await, expected);

    // Batch mode: one channel per key line, named with the key prefix on request.
    let batch = create(
        &root,
        json!({"mode": "batch", "batch_add_set_key_prefix_2_name": true, "channel": {
            "name": "bulk", "key": "sk-secret-b1\n\nsk-secret-b2\nsk-secret-b3\n",
            "models": ["m1"], "group": "default"
        }}),
    )
    .await;
    assert_eq!(batch.len(), 3);
    for id in &batch {
        assert_eq!(abilities(&pool, *id).await.len(), 1);
    }
    // A plain channel object, as older new-api accepted, adds one channel.
    let plain = create(
        &root,
        json!({"name": "plain", "key": "sk-secret-p", "models": "m2"}),
    )
    .await;
    assert_eq!(plain.len(), 1);

    // The list: pagination, totals, type counts, filters; never keys.
    let page = root.get("/api/channel/?p=1&page_size=2&id_sort=true").await;
    assert!(page.success());
    assert_no_keys(&page.body);
    assert_eq!(page.data()["total"], json!(5));
    assert_eq!(page.data()["page"], json!(1));
    assert_eq!(page.data()["page_size"], json!(2));
    assert_eq!(page.data()["type_counts"]["1"], json!(5));
    let first: Vec<i64> = page.data()["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_i64().unwrap())
        .collect();
    assert_eq!(first, vec![plain[0], batch[2]]);
    let third = root.get("/api/channel/?p=3&page_size=2&id_sort=true").await;
    assert_eq!(third.data()["items"].as_array().unwrap().len(), 1);
    assert_eq!(third.data()["items"][0]["id"], json!(alpha));
    let by_priority = root.get("/api/channel/?p=1&page_size=10").await;
    assert_eq!(by_priority.data()["items"][0]["id"], json!(alpha));
    let vip = root.get("/api/channel/?group=vip").await;
    assert_eq!(vip.data()["total"], json!(1));
    let no_type = root.get("/api/channel/?type=14").await;
    assert_eq!(no_type.data()["total"], json!(0));
    // Without the trailing slash too.
    assert_eq!(root.get("/api/channel?p=1").await.data()["total"], json!(5));

    // Search: name, id, whole key (never a key fragment), model, group.
    let found = root.get("/api/channel/search?keyword=bul").await;
    assert!(found.success());
    assert_no_keys(&found.body);
    assert_eq!(found.data()["total"], json!(3));
    let any_case = root.get("/api/channel/search?keyword=BUL&model=M1").await;
    assert_eq!(any_case.data()["total"], json!(3));
    let by_id = root
        .get(&format!("/api/channel/search?keyword={alpha}"))
        .await;
    assert_eq!(by_id.data()["items"][0]["id"], json!(alpha));
    let by_key = root.get("/api/channel/search?keyword=sk-secret-a2").await;
    assert_eq!(by_key.data()["total"], json!(1));
    let fragment = root.get("/api/channel/search?keyword=secret-a").await;
    assert_eq!(fragment.data()["total"], json!(0));
    let by_model = root
        .get("/api/channel/search?keyword=&model=gpt-4o-mini")
        .await;
    assert_eq!(by_model.data()["total"], json!(1));
    let by_group = root.get("/api/channel/search?keyword=&group=vip").await;
    assert_eq!(by_group.data()["total"], json!(1));
    let paged = root
        .get("/api/channel/search?keyword=&p=2&page_size=4")
        .await;
    assert_eq!(paged.data()["total"], json!(5));
    assert_eq!(paged.data()["items"].as_array().unwrap().len(), 1);

    // Models across channels, and those an enabled channel serves.
    let models = root.get("/api/channel/models").await;
    let names: Vec<&str> = models
        .data()
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["gpt-4o", "gpt-4o-mini", "m1", "m2"]);

    // Update: partial; an empty key keeps the keys; abilities follow.
    let updated = put(
        &root,
        "/api/channel/",
        json!({"id": alpha, "key": "", "models": "gpt-4o", "group": "vip", "priority": 9,
               "weight": 1, "tag": "t2", "name": "alpha2"}),
    )
    .await;
    assert!(updated.success(), "{updated:?}");
    assert_no_keys(&updated.body);
    assert_eq!(updated.data()["name"], json!("alpha2"));
    assert_eq!(updated.data()["base_url"], json!("https://alpha.example"));
    let keys: String = sqlx::query_scalar("SELECT `keys` FROM channels WHERE id = ?")
        .bind(alpha)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(keys, "sk-secret-a1\nsk-secret-a2");
    assert_eq!(
        abilities(&pool, alpha).await,
        vec![("vip".into(), "gpt-4o".into(), alpha, 1, 9, 1, "t2".into())]
    );
    // new-api's key_mode "append" adds keys; a new key replaces them otherwise.
    let appended = put(
        &root,
        "/api/channel/",
        json!({"id": alpha, "key": "sk-secret-a3", "key_mode": "append"}),
    )
    .await;
    assert!(appended.success(), "{appended:?}");
    assert_eq!(appended.data()["channel_info"]["multi_key_size"], json!(3));
    let replaced = put(
        &root,
        "/api/channel/",
        json!({"id": alpha, "key": "sk-secret-a4"}),
    )
    .await;
    assert_eq!(replaced.data()["channel_info"]["multi_key_size"], json!(1));

    // Disabling turns the abilities off; enabling turns them on.
    let disabled = put(&root, "/api/channel/", json!({"id": alpha, "status": 2})).await;
    assert!(disabled.success(), "{disabled:?}");
    assert!(abilities(&pool, alpha).await.iter().all(|a| a.3 == 0));
    assert_eq!(
        root.get("/api/channel/?status=disabled").await.data()["total"],
        json!(1)
    );
    assert_eq!(
        root.get("/api/channel/?status=enabled").await.data()["total"],
        json!(4)
    );
    let enabled_models = root.get("/api/channel/models_enabled").await;
    assert_eq!(enabled_models.data(), &json!(["m1", "m2"]));
    put(&root, "/api/channel/", json!({"id": alpha, "status": 1})).await;
    assert!(abilities(&pool, alpha).await.iter().all(|a| a.3 == 1));

    // The change feed records channel mutations.
    let events = count(
        &pool,
        &format!(
            "SELECT COUNT(*) FROM change_events WHERE topic = 'channel' AND entity_id = {alpha}"
        ),
    )
    .await;
    assert!(events >= 5, "{events} channel events");

    // Delete one; deleting it again is an error.
    let gone = delete(&root, &format!("/api/channel/{}/", plain[0])).await;
    assert!(gone.success(), "{gone:?}");
    assert!(abilities(&pool, plain[0]).await.is_empty());
    let again = delete(&root, &format!("/api/channel/{}", plain[0])).await;
    assert!(!again.success());
    assert_eq!(again.message(), "Channel does not exist");

    // Batch delete by ids; unknown ids are not counted.
    let batch_gone = root
        .post(
            "/api/channel/batch",
            json!({"ids": [batch[0], batch[1], 999_999]}),
        )
        .await;
    assert!(batch_gone.success(), "{batch_gone:?}");
    assert_eq!(batch_gone.data(), &json!(2));
    assert!(abilities(&pool, batch[0]).await.is_empty());

    // Delete the disabled ones: a channel disabled automatically and one disabled by an admin.
    sqlx::query("UPDATE channels SET status = 3 WHERE id = ?")
        .bind(batch[2])
        .execute(&pool)
        .await
        .unwrap();
    put(&root, "/api/channel/", json!({"id": alpha, "status": 2})).await;
    let purged = delete(&root, "/api/channel/disabled").await;
    assert!(purged.success(), "{purged:?}");
    assert_eq!(purged.data(), &json!(2));
    assert_eq!(count(&pool, "SELECT COUNT(*) FROM channels").await, 0);
    assert_eq!(count(&pool, "SELECT COUNT(*) FROM abilities").await, 0);
    assert_eq!(root.get("/api/channel/").await.data()["total"], json!(0));
}

async fn bad_input_and_privileges(backend: Backend) {
    let pylon = Pylon::start(backend).await;
    let pool = database(&pylon).await;
    let root = root_console(&pylon).await;
    let id = create(&root, json!({"mode": "single", "channel": {"name": "keep", "key": "sk-secret-k", "models": "m", "group": "default"}})).await[0];
    let before = root.get(&format!("/api/channel/{id}")).await.data().clone();
    let abilities_before = abilities(&pool, id).await;
    let events_before = count(&pool, "SELECT COUNT(*) FROM change_events").await;

    let good = json!({"name": "n", "key": "k", "models": "m"});
    let with = |field: &str, value: Value| {
        let mut body = good.clone();
        body[field] = value;
        json!({"mode": "single", "channel": body})
    };
    let bad_creates = [
        (with("type", json!(9999)), "Unknown channel type"),
        (with("type", json!("one")), "Invalid parameters"),
        (with("base_url", json!("ftp://x.example")), "base_url"),
        (with("base_url", json!("not a url")), "base_url"),
        (
            with("base_url", json!("https://x.example/?q=1")),
            "base_url",
        ),
        (with("model_mapping", json!("{not json")), "model_mapping"),
        (with("model_mapping", json!("{\"a\": 1}")), "model_mapping"),
        (with("header_override", json!("[1]")), "header_override"),
        (with("weight", json!(-1)), "weight"),
        (with("priority", json!(1.5)), "Invalid parameters"),
        (with("models", json!("")), "models"),
        (with("models", json!(7)), "models"),
        (with("key", json!("  \n ")), "key"),
        (with("status", json!(3)), "status"),
        (with("auto_ban", json!(2)), "auto_ban"),
        (
            json!({"mode": "sideways", "channel": good}),
            "Unsupported add mode",
        ),
        (
            json!({"mode": "single", "channel": null}),
            "channel cannot be empty",
        ),
    ];
    for (body, expected) in bad_creates {
        let answer = root.post("/api/channel/", body.clone()).await;
        assert!(!answer.success(), "{body} was accepted");
        assert!(
            answer.message().contains(expected),
            "{body}: {answer:?} should mention {expected}"
        );
    }
    let malformed = root.post_raw("/api/channel/", "{\"mode\": ").await;
    assert!(
        malformed.message().starts_with("Invalid parameters"),
        "{malformed:?}"
    );
    let bad_updates = [
        json!({"id": id, "base_url": "gopher://x"}),
        json!({"id": id, "model_mapping": "[]"}),
        json!({"id": id, "weight": "heavy"}),
        json!({"id": id, "status": 7}),
        json!({"id": 999_999, "name": "ghost"}),
        json!({"name": "no id"}),
    ];
    for body in bad_updates {
        let answer = put(&root, "/api/channel/", body.clone()).await;
        assert!(!answer.success(), "{body} was accepted");
    }
    let malformed = root
        .send(Method::PUT, "/api/channel/", Some("[1,".into()))
        .await;
    assert!(malformed.message().starts_with("Invalid parameters"));
    for path in [
        "/api/channel/999999",
        "/api/channel/abc",
        "/api/channel/test/999999",
        "/api/channel/update_balance/999999",
    ] {
        let answer = root.get(path).await;
        assert!(!answer.success(), "{path}: {answer:?}");
    }
    assert_eq!(root.get("/api/channel/abc").await.status, 404);
    assert_eq!(root.get("/api/channel/0").await.message(), "Invalid ID");
    assert_eq!(
        root.get("/api/channel/999999").await.message(),
        "Channel does not exist"
    );
    assert!(!delete(&root, "/api/channel/999999").await.success());
    assert!(
        !root
            .post("/api/channel/batch", json!({"ids": []}))
            .await
            .success()
    );
    assert!(
        !root
            .post("/api/channel/batch", json!({"ids": "1"}))
            .await
            .success()
    );

    // Nothing changed.
    assert_eq!(
        root.get(&format!("/api/channel/{id}")).await.data(),
        &before
    );
    assert_eq!(abilities(&pool, id).await, abilities_before);
    assert_eq!(count(&pool, "SELECT COUNT(*) FROM channels").await, 1);
    assert_eq!(
        count(&pool, "SELECT COUNT(*) FROM change_events").await,
        events_before
    );

    // A common user is refused everywhere, and changes nothing.
    let user = console_with_role(&pylon, &pool, "alice", 1).await;
    let requests: Vec<(Method, String, Option<Value>)> = vec![
        (Method::GET, "/api/channel/".into(), None),
        (Method::GET, "/api/channel/search?keyword=".into(), None),
        (Method::GET, format!("/api/channel/{id}"), None),
        (Method::GET, "/api/channel/models".into(), None),
        (Method::GET, "/api/channel/models_enabled".into(), None),
        (Method::GET, "/api/channel/test".into(), None),
        (Method::GET, format!("/api/channel/test/{id}"), None),
        (Method::GET, "/api/channel/update_balance".into(), None),
        (
            Method::GET,
            format!("/api/channel/update_balance/{id}"),
            None,
        ),
        (
            Method::POST,
            "/api/channel/".into(),
            Some(with("name", json!("evil"))),
        ),
        (
            Method::PUT,
            "/api/channel/".into(),
            Some(json!({"id": id, "name": "evil"})),
        ),
        (Method::DELETE, format!("/api/channel/{id}"), None),
        (Method::DELETE, "/api/channel/disabled".into(), None),
        (
            Method::POST,
            "/api/channel/batch".into(),
            Some(json!({"ids": [id]})),
        ),
    ];
    for (method, path, body) in requests {
        let answer = user
            .send(method.clone(), &path, body.map(|b| b.to_string()))
            .await;
        assert_eq!(answer.status, reqwest::StatusCode::OK, "{method} {path}");
        assert!(!answer.success(), "{method} {path} allowed a common user");
        assert_eq!(
            answer.message(),
            "Unauthorized, insufficient privileges",
            "{method} {path}"
        );
    }
    // Not logged in at all: 401.
    let anonymous = Console::new(&pylon.base_url).get("/api/channel/").await;
    assert_eq!(anonymous.status, reqwest::StatusCode::UNAUTHORIZED);
    assert_eq!(
        root.get(&format!("/api/channel/{id}")).await.data(),
        &before
    );
    assert_eq!(count(&pool, "SELECT COUNT(*) FROM channels").await, 1);
    // An admin (role 10) may manage channels.
    let admin = console_with_role(&pylon, &pool, "boss", 10).await;
    assert!(admin.get("/api/channel/").await.success());
}

/// What the mock upstream saw.
#[derive(Default)]
struct Seen {
    requests: Vec<(HeaderMap, Value)>,
}

type Shared = Arc<Mutex<Seen>>;

async fn chat(
    State(seen): State<Shared>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> axum::response::Response {
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    seen.lock().unwrap().requests.push((headers, body.clone()));
    match auth.as_str() {
        "Bearer good-key" => Json(json!({
            "id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": body["model"],
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "h"}, "finish_reason": "length"}],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}
        }))
        .into_response(),
        "Bearer boom-key" => (AxumStatus::INTERNAL_SERVER_ERROR, "upstream exploded").into_response(),
        _ => (
            AxumStatus::UNAUTHORIZED,
            Json(json!({"error": {"message": "Incorrect API key provided", "type": "invalid_request_error"}})),
        )
            .into_response(),
    }
}

/// An OpenAI-compatible mock on 127.0.0.1:0, with billing endpoints at the root and a bare
/// variant (chat only) under `/bare`.
async fn start_upstream() -> (String, Shared) {
    let seen = Shared::default();
    let app = axum::Router::new()
        .route("/v1/chat/completions", post(chat))
        .route("/bare/v1/chat/completions", post(chat))
        .route(
            "/v1/dashboard/billing/subscription",
            get(|| async { Json(json!({"object": "billing_subscription", "has_payment_method": true, "hard_limit_usd": 100.0})) }),
        )
        .route(
            "/v1/dashboard/billing/usage",
            get(|| async { Json(json!({"object": "list", "total_usage": 2550.0})) }),
        )
        .with_state(seen.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (format!("http://{addr}"), seen)
}

async fn wait_for(console: &Console, id: i64, mut done: impl FnMut(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let row = console
            .get(&format!("/api/channel/{id}"))
            .await
            .data()
            .clone();
        if done(&row) {
            return row;
        }
        assert!(
            Instant::now() < deadline,
            "channel {id} never reached the state: {row}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn testing_and_balance(backend: Backend) {
    let (upstream, seen) = start_upstream().await;
    let pylon = Pylon::start(backend).await;
    let pool = database(&pylon).await;
    let root = root_console(&pylon).await;
    let channel = |name: &str, key: &str, base: String| {
        json!({"mode": "single", "channel": {
            "name": name, "key": key, "base_url": base, "models": "gpt-4o,gpt-x",
            "model_mapping": {"gpt-x": "gpt-x-upstream"}, "header_override": {"X-Trace": "t-{api_key}"}
        }})
    };
    let good = create(&root, channel("good", "good-key", format!("{upstream}/v1"))).await[0];
    let bad = create(&root, channel("bad", "bad-key", upstream.clone())).await[0];
    let boom = create(&root, channel("boom", "boom-key", upstream.clone())).await[0];
    let bare = create(
        &root,
        channel("bare", "good-key", format!("{upstream}/bare")),
    )
    .await[0];

    // Success: new-api's shape, the request it sent, the recorded timing.
    let answer = root.get(&format!("/api/channel/test/{good}")).await;
    assert_eq!(answer.body["success"], json!(true), "{answer:?}");
    assert_eq!(answer.body["message"], json!(""));
    assert!(
        answer.body["time"].as_f64().is_some_and(|t| t >= 0.0),
        "{answer:?}"
    );
    {
        let seen = seen.lock().unwrap();
        let (headers, body) = seen.requests.last().unwrap();
        assert_eq!(body["model"], json!("gpt-4o"));
        assert_eq!(body["max_tokens"], json!(1));
        assert_eq!(body["messages"][0]["content"], json!("hi"));
        assert_eq!(headers["x-trace"], "t-good-key");
    }
    let row = root
        .get(&format!("/api/channel/{good}"))
        .await
        .data()
        .clone();
    assert!(row["test_time"].as_i64().unwrap() > 0, "{row}");
    // ?model= wins, and goes through the model mapping.
    assert!(
        root.get(&format!("/api/channel/test/{good}?model=gpt-x"))
            .await
            .success()
    );
    assert_eq!(
        seen.lock().unwrap().requests.last().unwrap().1["model"],
        json!("gpt-x-upstream")
    );

    // Failures: the upstream's reason, and the channel stays as it was.
    let refused = root.get(&format!("/api/channel/test/{bad}")).await;
    assert_eq!(refused.body["success"], json!(false));
    assert!(
        refused.message().contains("401") && refused.message().contains("Incorrect API key"),
        "{refused:?}"
    );
    assert!(refused.body["time"].is_number());
    let exploded = root.get(&format!("/api/channel/test/{boom}")).await;
    assert_eq!(exploded.body["success"], json!(false));
    assert!(exploded.message().contains("500"), "{exploded:?}");
    assert_eq!(
        root.get(&format!("/api/channel/{bad}")).await.data()["status"],
        json!(1)
    );

    // A channel disabled automatically is enabled again by a successful test.
    sqlx::query("UPDATE channels SET status = 3, status_reason = 'too many errors' WHERE id = ?")
        .bind(good)
        .execute(&pool)
        .await
        .unwrap();
    sqlx::query("UPDATE abilities SET enabled = 0 WHERE channel_id = ?")
        .bind(good)
        .execute(&pool)
        .await
        .unwrap();
    assert!(
        root.get(&format!("/api/channel/test/{good}"))
            .await
            .success()
    );
    let row = root
        .get(&format!("/api/channel/{good}"))
        .await
        .data()
        .clone();
    assert_eq!(row["status"], json!(1));
    assert_eq!(row["status_reason"], json!(""));
    assert!(abilities(&pool, good).await.iter().all(|a| a.3 == 1));
    // A failed test does not re-enable it.
    sqlx::query("UPDATE channels SET status = 3 WHERE id = ?")
        .bind(bad)
        .execute(&pool)
        .await
        .unwrap();
    assert!(
        !root
            .get(&format!("/api/channel/test/{bad}"))
            .await
            .success()
    );
    assert_eq!(
        root.get(&format!("/api/channel/{bad}")).await.data()["status"],
        json!(3)
    );

    // The balance: hard limit 100 USD minus 2550 cents used.
    let balance = root
        .get(&format!("/api/channel/update_balance/{good}"))
        .await;
    assert_eq!(balance.body["success"], json!(true), "{balance:?}");
    assert_eq!(balance.body["balance"], json!(74.5));
    let row = root
        .get(&format!("/api/channel/{good}"))
        .await
        .data()
        .clone();
    assert_eq!(row["balance"], json!(74.5));
    assert!(row["balance_updated_time"].as_i64().unwrap() > 0);
    // An upstream without the billing endpoints: a clear error, nothing stored.
    let missing = root
        .get(&format!("/api/channel/update_balance/{bare}"))
        .await;
    assert!(!missing.success());
    assert!(
        missing.message().contains("Balance inquiry failed") && missing.message().contains("404"),
        "{missing:?}"
    );
    let row = root
        .get(&format!("/api/channel/{bare}"))
        .await
        .data()
        .clone();
    assert_eq!(row["balance"], json!(0.0));
    assert_eq!(row["balance_updated_time"], json!(0));

    // Testing all: the auto-disabled good channel recovers; with new-api's option on, an
    // enabled channel whose key is refused is disabled; a channel an admin disabled is skipped.
    sqlx::query("UPDATE channels SET status = 3 WHERE id = ?")
        .bind(good)
        .execute(&pool)
        .await
        .unwrap();
    put(&root, "/api/channel/", json!({"id": bad, "status": 1})).await;
    put(&root, "/api/channel/", json!({"id": boom, "status": 2})).await;
    let boom_tested = root.get(&format!("/api/channel/{boom}")).await.data()["test_time"].clone();
    let option = root
        .send(
            Method::PUT,
            "/api/option/",
            Some(json!({"key": "AutomaticDisableChannelEnabled", "value": true}).to_string()),
        )
        .await;
    assert!(option.success(), "{option:?}");
    let started = root.get("/api/channel/test").await;
    assert!(started.success(), "{started:?}");
    wait_for(&root, good, |c| c["status"] == json!(1)).await;
    let bad_row = wait_for(&root, bad, |c| c["status"] == json!(3)).await;
    assert!(
        bad_row["status_reason"].as_str().unwrap().contains("401"),
        "{bad_row}"
    );
    assert!(abilities(&pool, bad).await.iter().all(|a| a.3 == 0));
    assert_eq!(
        root.get(&format!("/api/channel/{boom}")).await.data()["test_time"],
        boom_tested
    );
}

on_every_backend!(channel_lifecycle);
on_every_backend!(bad_input_and_privileges);
on_every_backend!(testing_and_balance);
