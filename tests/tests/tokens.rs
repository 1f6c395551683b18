//! API keys through port 3000 as new-api's console and clients use them: create, list, search,
//! get, update, enable/disable, reveal, delete, batch delete, the key's own usage report, the
//! per-user limit, bad input, and one user never seeing or touching another's keys.

use pylon_shared::keys;
use pylon_tests::client::Answer;
use pylon_tests::fixtures::{console_with_role, database, root_console, set_option};
use pylon_tests::{Backend, Console, Pylon, on_every_backend};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sqlx::AnyPool;

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

async fn token_events(pool: &AnyPool) -> Vec<i64> {
    sqlx::query_scalar("SELECT entity_id FROM change_events WHERE topic = 'token' ORDER BY id")
        .fetch_all(pool)
        .await
        .unwrap()
}

/// Every stored token, to check that a refused request changed nothing.
async fn snapshot(pool: &AnyPool) -> Vec<String> {
    type Row = (i64, i64, String, i64, i64, i64, String, String);
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT id, user_id, name, status, remain_quota, expired_time, allow_ips, `group` \
         FROM tokens ORDER BY id",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    rows.into_iter().map(|r| format!("{r:?}")).collect()
}

async fn key_hash(pool: &AnyPool, id: i64) -> String {
    sqlx::query_scalar("SELECT key_hash FROM tokens WHERE id = ?")
        .bind(id)
        .fetch_one(pool)
        .await
        .unwrap()
}

async fn put(console: &Console, path: &str, body: Value) -> Answer {
    console
        .send(Method::PUT, path, Some(body.to_string()))
        .await
}

async fn delete(console: &Console, path: &str) -> Answer {
    console.send(Method::DELETE, path, None).await
}

/// Creates a key and returns its id (create answers no data, as new-api: the list has it).
async fn create(console: &Console, body: Value) -> i64 {
    let name = body["name"].as_str().unwrap_or_default().to_string();
    let answer = console.post("/api/token/", body).await;
    assert!(answer.success(), "create failed: {answer:?}");
    assert!(
        answer.data().is_null(),
        "create returns no data: {answer:?}"
    );
    let list = console.get("/api/token/?p=1&page_size=100").await;
    list.data()["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == json!(name))
        .and_then(|t| t["id"].as_i64())
        .expect("created key is listed")
}

/// The ids a list or search answers, in order.
async fn ids(console: &Console, path: &str) -> Vec<i64> {
    let answer = console.get(path).await;
    assert!(answer.success(), "{answer:?}");
    answer.data()["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_i64().unwrap())
        .collect()
}

async fn reveal(console: &Console, id: i64) -> String {
    let answer = console
        .post(&format!("/api/token/{id}/key"), json!({}))
        .await;
    assert!(answer.success(), "reveal failed: {answer:?}");
    answer.data()["key"].as_str().unwrap().to_string()
}

async fn usage(pylon: &Pylon, authorization: Option<&str>) -> Answer {
    let mut client = Console::new(&pylon.base_url);
    client.bearer = authorization.map(str::to_string);
    client.get("/api/usage/token/").await
}

fn assert_masked(key: &Value) {
    let key = key.as_str().unwrap();
    assert_eq!(key.len(), 18, "{key}");
    assert_eq!(&key[4..14], "**********");
    assert!(
        !key.starts_with("sk-"),
        "sent without sk-, as new-api: {key}"
    );
}

/// Each field of `expected` has that value in `actual`.
fn assert_fields(actual: &Value, expected: Value) {
    for (field, value) in expected.as_object().unwrap() {
        assert_eq!(&actual[field], value, "{field} in {actual}");
    }
}

fn assert_refused(answer: &Answer, expected: &str) {
    assert_eq!(answer.status, StatusCode::OK, "{answer:?}");
    assert!(!answer.success(), "{answer:?}");
    assert!(
        answer.message().contains(expected),
        "{answer:?} should mention {expected}"
    );
}

async fn lifecycle(backend: Backend) {
    let pylon = Pylon::start(backend).await;
    let pool = database(&pylon).await;
    let root = root_console(&pylon).await;

    let first = create(
        &root,
        json!({
            "name": "first", "expired_time": -1, "remain_quota": 500000,
            "unlimited_quota": false, "model_limits_enabled": true,
            "model_limits": "gpt-4o,gpt-4o-mini", "allow_ips": "127.0.0.1\n10.0.0.0/8",
            "group": "default", "cross_group_retry": true
        }),
    )
    .await;
    assert_eq!(token_events(&pool).await, vec![first]);
    let expiry = now() + 3600;
    let second = create(
        &root,
        json!({"name": "second-key", "expired_time": expiry, "unlimited_quota": true}),
    )
    .await;

    // Listed newest first, masked, paginated as new-api.
    let list = root.get("/api/token/?p=1&page_size=10").await;
    assert!(list.success());
    let data = list.data();
    assert_eq!(data["total"], json!(2));
    assert_eq!(data["page"], json!(1));
    assert_eq!(data["page_size"], json!(10));
    let items = data["items"].as_array().unwrap();
    assert_eq!(items[0]["id"], json!(second));
    assert_eq!(items[1]["id"], json!(first));
    for item in items {
        assert_masked(&item["key"]);
        assert_eq!(item["status"], json!(1));
    }
    let page_two = root.get("/api/token/?p=2&page_size=1").await;
    assert_eq!(page_two.data()["total"], json!(2));
    assert_eq!(page_two.data()["page"], json!(2));
    assert_eq!(page_two.data()["items"][0]["id"], json!(first));
    assert_eq!(page_two.data()["items"].as_array().unwrap().len(), 1);

    // Details, masked; cross-group retry is kept only for the auto group.
    let got = root.get(&format!("/api/token/{first}")).await;
    assert!(got.success(), "{got:?}");
    let t = got.data();
    assert_masked(&t["key"]);
    assert_fields(
        t,
        json!({"name": "first", "remain_quota": 500000, "unlimited_quota": false,
               "model_limits_enabled": true, "model_limits": "gpt-4o,gpt-4o-mini",
               "allow_ips": "127.0.0.1\n10.0.0.0/8", "group": "default",
               "cross_group_retry": false, "expired_time": -1, "used_quota": 0, "status": 1}),
    );
    assert_eq!(
        root.get(&format!("/api/token/{second}")).await.data()["expired_time"],
        json!(expiry)
    );

    // Revealed in full (without sk-, as new-api), matching the stored hash and the mask.
    let key = reveal(&root, first).await;
    assert_eq!(key.len(), 48);
    assert!(key.chars().all(|c| c.is_ascii_alphanumeric()));
    assert_eq!(
        keys::lookup_hash(&format!("sk-{key}")),
        key_hash(&pool, first).await
    );
    let masked = t["key"].as_str().unwrap();
    assert_eq!(&masked[..4], &key[..4]);
    assert_eq!(&masked[14..], &key[44..]);
    assert_ne!(reveal(&root, second).await, key);

    // The key reports its own usage, in new-api's shape.
    let report = usage(&pylon, Some(&format!("sk-{key}"))).await;
    assert_eq!(report.status, StatusCode::OK, "{report:?}");
    assert_eq!(report.body["code"], json!(true));
    assert_eq!(report.body["message"], json!("ok"));
    assert_eq!(
        report.data(),
        &json!({"object": "token_usage", "name": "first", "total_granted": 500000,
                "total_used": 0, "total_available": 500000, "unlimited_quota": false,
                "model_limits": {"gpt-4o": true, "gpt-4o-mini": true},
                "model_limits_enabled": true, "expires_at": 0})
    );
    assert_eq!(
        usage(&pylon, Some(&key)).await.data()["name"],
        json!("first")
    );
    let bogus = usage(
        &pylon,
        Some("sk-thisisnotakeythisisnotakeythisisnotakey123456"),
    )
    .await;
    assert_eq!(bogus.status, StatusCode::UNAUTHORIZED);
    assert!(!bogus.success());
    assert_eq!(bogus.message(), "Invalid token");
    let missing = usage(&pylon, None).await;
    assert_eq!(missing.status, StatusCode::UNAUTHORIZED);
    assert_eq!(missing.message(), "Token not provided");

    // Search by name and by key.
    assert_eq!(
        ids(&root, "/api/token/search?keyword=first").await,
        vec![first]
    );
    assert_eq!(
        ids(&root, "/api/token/search?keyword=%25key%25").await,
        vec![second]
    );
    assert_eq!(
        ids(&root, "/api/token/search?keyword=fir%25").await,
        vec![first]
    );
    assert!(ids(&root, "/api/token/search?keyword=fir").await.is_empty());
    assert_eq!(
        ids(&root, &format!("/api/token/search?token=sk-{key}")).await,
        vec![first]
    );
    assert_eq!(
        ids(&root, &format!("/api/token/search?token={key}")).await,
        vec![first]
    );
    let prefix = format!("/api/token/search?token={}%25", &key[..6]);
    assert_eq!(ids(&root, &prefix).await, vec![first]);
    let both = format!("/api/token/search?keyword=second%25&token={key}");
    assert!(ids(&root, &both).await.is_empty());
    assert_refused(
        &root.get("/api/token/search?token=ab%25%25").await,
        "Consecutive",
    );
    assert_refused(
        &root.get("/api/token/search?keyword=%25a%25b%25").await,
        "At most 2",
    );

    // A full update changes the settings but not the status (as new-api).
    let updated = put(
        &root,
        "/api/token/",
        json!({"id": first, "name": "renamed", "status": 2, "remain_quota": 600000,
               "expired_time": -1, "unlimited_quota": false, "group": "default", "allow_ips": ""}),
    )
    .await;
    assert!(updated.success(), "{updated:?}");
    assert_eq!(updated.data()["name"], json!("renamed"));
    assert_eq!(updated.data()["status"], json!(1));
    assert_eq!(updated.data()["remain_quota"], json!(600000));
    assert_masked(&updated.data()["key"]);
    let t = root.get(&format!("/api/token/{first}")).await;
    assert_eq!(t.data()["name"], json!("renamed"));
    assert_eq!(t.data()["allow_ips"], json!(""));
    assert_eq!(
        t.data()["model_limits"],
        json!("gpt-4o,gpt-4o-mini"),
        "absent: kept"
    );

    // Disable and enable with status_only.
    let disabled = put(
        &root,
        "/api/token/?status_only=true",
        json!({"id": first, "status": 2}),
    )
    .await;
    assert!(disabled.success(), "{disabled:?}");
    assert_eq!(disabled.data()["status"], json!(2));
    let refused = usage(&pylon, Some(&format!("sk-{key}"))).await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
    assert_eq!(refused.message(), "This token status is unavailable");
    let enabled = put(
        &root,
        "/api/token/?status_only=true",
        json!({"id": first, "status": 1}),
    )
    .await;
    assert_eq!(enabled.data()["status"], json!(1));

    // An expired key cannot be enabled until its expiry changes; an exhausted one until its quota.
    sqlx::query("UPDATE tokens SET status = 3, expired_time = ? WHERE id = ?")
        .bind(now() - 100)
        .bind(first)
        .execute(&pool)
        .await
        .unwrap();
    let before = snapshot(&pool).await;
    let enable = json!({"id": first, "status": 1});
    assert_refused(
        &put(&root, "/api/token/?status_only=true", enable.clone()).await,
        "expired",
    );
    assert_eq!(snapshot(&pool).await, before);
    assert!(
        put(
            &root,
            "/api/token/",
            json!({"id": first, "expired_time": -1})
        )
        .await
        .success()
    );
    assert_eq!(
        put(&root, "/api/token/?status_only=true", enable.clone())
            .await
            .data()["status"],
        json!(1)
    );
    sqlx::query("UPDATE tokens SET status = 4, remain_quota = 0 WHERE id = ?")
        .bind(first)
        .execute(&pool)
        .await
        .unwrap();
    assert_refused(
        &put(&root, "/api/token/?status_only=true", enable.clone()).await,
        "exhausted",
    );
    assert!(
        put(
            &root,
            "/api/token/",
            json!({"id": first, "remain_quota": 10})
        )
        .await
        .success()
    );
    assert!(
        put(&root, "/api/token/?status_only=true", enable)
            .await
            .success()
    );

    // Delete: gone from lists, details, reveal and usage.
    let events = token_events(&pool).await.len();
    let deleted = delete(&root, &format!("/api/token/{first}")).await;
    assert!(deleted.success(), "{deleted:?}");
    assert_eq!(token_events(&pool).await.last(), Some(&first));
    assert_eq!(token_events(&pool).await.len(), events + 1);
    assert_eq!(ids(&root, "/api/token/").await, vec![second]);
    assert_refused(
        &root.get(&format!("/api/token/{first}")).await,
        "record not found",
    );
    assert_refused(
        &root
            .post(&format!("/api/token/{first}/key"), json!({}))
            .await,
        "record not found",
    );
    assert_refused(
        &delete(&root, &format!("/api/token/{first}")).await,
        "record not found",
    );
    assert_eq!(
        usage(&pylon, Some(&format!("sk-{key}"))).await.status,
        StatusCode::UNAUTHORIZED
    );
    // new-api's console deletes with a trailing slash.
    assert!(
        delete(&root, &format!("/api/token/{second}/"))
            .await
            .success()
    );
    assert_eq!(root.get("/api/token/").await.data()["total"], json!(0));

    // Batch delete: counts only what it deleted.
    let a = create(&root, json!({"name": "a"})).await;
    let b = create(&root, json!({"name": "b"})).await;
    let c = create(&root, json!({"name": "c"})).await;
    let batch = root
        .post("/api/token/batch", json!({"ids": [a, b, 999999, a]}))
        .await;
    assert!(batch.success(), "{batch:?}");
    assert_eq!(batch.data(), &json!(2));
    assert_eq!(ids(&root, "/api/token/").await, vec![c]);
    let events = token_events(&pool).await;
    assert!(
        events.ends_with(&[a, b]) || events.ends_with(&[b, a]),
        "{events:?}"
    );
}
on_every_backend!(lifecycle);

async fn isolation(backend: Backend) {
    let pylon = Pylon::start(backend).await;
    let pool = database(&pylon).await;
    let root = root_console(&pylon).await;
    let root_key = create(&root, json!({"name": "root-key", "remain_quota": 100})).await;
    let secret = reveal(&root, root_key).await;
    let alice = console_with_role(&pylon, &pool, "alice", 1).await;
    let before = snapshot(&pool).await;
    let events = token_events(&pool).await;

    // Another user's id gets exactly the answer of an id that does not exist.
    for id in [root_key, 999_999] {
        let get = alice.get(&format!("/api/token/{id}")).await;
        assert_refused(&get, "record not found");
        let cases = [
            get,
            alice.post(&format!("/api/token/{id}/key"), json!({})).await,
            put(&alice, "/api/token/", json!({"id": id, "name": "mine now"})).await,
            put(
                &alice,
                "/api/token/?status_only=true",
                json!({"id": id, "status": 2}),
            )
            .await,
            delete(&alice, &format!("/api/token/{id}")).await,
        ];
        for answer in cases {
            assert_eq!(answer.status, StatusCode::OK);
            assert_eq!(
                answer.body,
                json!({"success": false, "message": "record not found"})
            );
        }
    }
    let batch = alice
        .post("/api/token/batch", json!({"ids": [root_key]}))
        .await;
    assert!(batch.success());
    assert_eq!(batch.data(), &json!(0));
    assert_eq!(alice.get("/api/token/").await.data()["total"], json!(0));
    let search = alice
        .get(&format!(
            "/api/token/search?keyword=root-key&token={secret}"
        ))
        .await;
    assert_eq!(search.data()["total"], json!(0));
    let search = alice
        .get(&format!("/api/token/search?token={}%25", &secret[..5]))
        .await;
    assert_eq!(search.data()["total"], json!(0));
    assert_eq!(snapshot(&pool).await, before, "nothing changed");
    assert_eq!(token_events(&pool).await, events, "nothing announced");

    // Each sees only their own.
    let alice_key = create(&alice, json!({"name": "alice-key"})).await;
    assert_eq!(ids(&alice, "/api/token/").await, vec![alice_key]);
    assert_eq!(ids(&root, "/api/token/").await, vec![root_key]);
    assert_eq!(
        ids(&root, "/api/token/search?keyword=%25key").await,
        vec![root_key]
    );
    assert_refused(
        &root.get(&format!("/api/token/{alice_key}")).await,
        "record not found",
    );

    // Without credentials nothing is served.
    let anonymous = Console::new(&pylon.base_url);
    assert_eq!(
        anonymous.get("/api/token/").await.status,
        StatusCode::UNAUTHORIZED
    );
    let created = anonymous.post("/api/token/", json!({"name": "x"})).await;
    assert_eq!(created.status, StatusCode::UNAUTHORIZED);
    assert_eq!(ids(&root, "/api/token/").await, vec![root_key]);
}
on_every_backend!(isolation);

async fn bad_input_and_limits(backend: Backend) {
    let pylon = Pylon::start(backend).await;
    let pool = database(&pylon).await;
    let root = root_console(&pylon).await;
    let kept = create(
        &root,
        json!({"name": "kept", "remain_quota": 7, "allow_ips": "::1"}),
    )
    .await;
    let before = snapshot(&pool).await;
    let events = token_events(&pool).await;

    let malformed = root.post_raw("/api/token/", "{\"name\": ").await;
    assert_refused(&malformed, "Invalid parameters");
    for (body, expected) in [
        (json!({"name": 5}), "Invalid parameters"),
        (
            json!({"name": "n", "remain_quota": "lots"}),
            "Invalid parameters",
        ),
        (
            json!({"name": "n", "unlimited_quota": "yes"}),
            "Invalid parameters",
        ),
        (
            json!({"name": "n", "remain_quota": -1}),
            "cannot be negative",
        ),
        (
            json!({"name": "n", "remain_quota": 500_000_000_000_001_i64}),
            "exceeds",
        ),
        (json!({"name": "x".repeat(51)}), "too long"),
        (
            json!({"name": "n", "allow_ips": "10.0.0.0/33"}),
            "Invalid IP",
        ),
        (
            json!({"name": "n", "allow_ips": "127.0.0.1\nnot-an-ip"}),
            "Invalid IP",
        ),
        (
            json!({"name": "n", "expired_time": 1000}),
            "earlier than current time",
        ),
        (json!({"name": "n", "group": "vip"}), "No permission"),
    ] {
        assert_refused(&root.post("/api/token/", body).await, expected);
    }
    let id = |mut fields: Value| {
        fields["id"] = json!(kept);
        fields
    };
    let update_raw = root
        .send(Method::PUT, "/api/token/", Some("{\"id\": ".to_string()))
        .await;
    assert_refused(&update_raw, "Invalid parameters");
    for (query, body, expected) in [
        ("", json!({}), "id is required"),
        ("", json!({"id": "one"}), "Invalid parameters"),
        ("", id(json!({"remain_quota": -5})), "cannot be negative"),
        ("", id(json!({"allow_ips": "300.1.1.1"})), "Invalid IP"),
        (
            "",
            id(json!({"expired_time": 5})),
            "earlier than current time",
        ),
        ("", id(json!({"name": "y".repeat(60)})), "too long"),
        ("", id(json!({"group": "vip"})), "No permission"),
        (
            "?status_only=true",
            id(json!({"status": 7})),
            "status must be",
        ),
        ("?status_only=true", id(json!({})), "status is required"),
    ] {
        let answer = put(&root, &format!("/api/token/{query}"), body).await;
        assert_refused(&answer, expected);
    }
    for body in [
        "{\"ids\": []}",
        "{}",
        "{\"ids\": ",
        "{\"ids\": \"x\"}",
        "[1]",
    ] {
        let answer = root.post_raw("/api/token/batch", body).await;
        assert_refused(&answer, "Invalid parameters");
    }
    // A word or a sign where the id goes names no route; zero is no id.
    for answer in [
        root.get("/api/token/abc").await,
        delete(&root, "/api/token/-3").await,
        root.post("/api/token/abc/key", json!({})).await,
    ] {
        assert_eq!(answer.status, StatusCode::NOT_FOUND, "{answer:?}");
        assert!(!answer.success(), "{answer:?}");
    }
    assert_refused(&root.get("/api/token/0").await, "Invalid ID");
    assert_refused(
        &root.post("/api/token/0/key", json!({})).await,
        "Invalid ID",
    );
    assert_eq!(
        snapshot(&pool).await,
        before,
        "refused requests change nothing"
    );
    assert_eq!(token_events(&pool).await, events, "and announce nothing");

    // A group the operator priced is accepted.
    set_option(&root, "GroupRatio", r#"{"default": 1, "vip": 1.5}"#).await;
    let vip = create(&root, json!({"name": "vip", "group": "vip"})).await;
    assert_eq!(
        root.get(&format!("/api/token/{vip}")).await.data()["group"],
        json!("vip")
    );

    // The per-user limit (MaxUserTokens) refuses the key beyond it.
    set_option(&root, "MaxUserTokens", "3").await;
    create(&root, json!({"name": "third"})).await;
    let over = root.post("/api/token/", json!({"name": "fourth"})).await;
    assert_refused(&over, "Maximum number of tokens reached (3)");
    assert_eq!(root.get("/api/token/").await.data()["total"], json!(3));
    // Deleting one makes room again.
    assert!(delete(&root, &format!("/api/token/{vip}")).await.success());
    create(&root, json!({"name": "fourth"})).await;
    assert_eq!(root.get("/api/token/").await.data()["total"], json!(3));
}
on_every_backend!(bad_input_and_limits);

async fn concurrent_creations_respect_the_limit(backend: Backend) {
    let pylon = Pylon::start(backend).await;
    let root = root_console(&pylon).await;
    let pool = database(&pylon).await;
    let alice = console_with_role(&pylon, &pool, "alice", 1).await;
    set_option(&root, "MaxUserTokens", "3").await;
    let answers: Vec<Answer> = futures::future::join_all(
        (0..12).map(|i| alice.post("/api/token/", json!({ "name": format!("k{i}") }))),
    )
    .await;
    let created = answers.iter().filter(|a| a.success()).count();
    assert_eq!(created, 3, "{answers:?}");
    for refused in answers.iter().filter(|a| !a.success()) {
        assert_eq!(refused.message(), "Maximum number of tokens reached (3)");
    }
    let id = alice.user_id.expect("id");
    let rows: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM tokens WHERE user_id = ?")
        .bind(id)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(rows, 3);
    // Each created key was announced in its own transaction, exactly once.
    let mut announced = token_events(&pool).await;
    announced.sort_unstable();
    let mut ids: Vec<i64> = sqlx::query_scalar("SELECT id FROM tokens WHERE user_id = ?")
        .bind(id)
        .fetch_all(&pool)
        .await
        .unwrap();
    ids.sort_unstable();
    assert_eq!(announced, ids);
}
on_every_backend!(concurrent_creations_respect_the_limit);
