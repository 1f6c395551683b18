//! new-api's invitation codes (issue 13), on SQLite and on MySQL + Redis, with the control plane
//! served in this process: root creates batches (shown once, stored hashed), lists, searches,
//! renames, switches and deletes them; when the operator requires a code for password
//! registration, registering needs an unused, enabled, unexpired code, uses it up with the new
//! user in one transaction, and of two registrations racing for one code exactly one wins.

use pylon_tests::in_process::InProcess;
use pylon_tests::user_admin_fixtures::PASSWORD;
use pylon_tests::{Backend, Console, on_every_backend};
use reqwest::Method;
use serde_json::{Value, json};

async fn put(console: &Console, path: &str, body: Value) -> pylon_tests::client::Answer {
    console
        .send(Method::PUT, path, Some(body.to_string()))
        .await
}

async fn register(base_url: &str, username: &str, code: &str) -> pylon_tests::client::Answer {
    Console::new(base_url)
        .post(
            "/api/user/register",
            json!({"username": username, "password": PASSWORD, "password2": PASSWORD,
                "invitation_code": code}),
        )
        .await
}

async fn can_log_in(base_url: &str, username: &str) -> bool {
    Console::new(base_url)
        .post(
            "/api/user/login",
            json!({"username": username, "password": PASSWORD}),
        )
        .await
        .success()
}

fn items(answer: &pylon_tests::client::Answer) -> Vec<Value> {
    assert!(answer.success(), "{answer:?}");
    answer.data()["items"].as_array().expect("items").clone()
}

async fn invitation_codes_gate_registration(backend: Backend) {
    let plane = InProcess::start(backend).await;
    let url = plane.base_url.clone();
    let mut root = Console::new(&url);
    root.setup_root("root", PASSWORD).await;
    root.login("root", PASSWORD).await;

    // Bad batches are refused and store nothing.
    for (body, reason) in [
        (json!({"name": "", "count": 1}), "name"),
        (json!({"name": "x".repeat(21), "count": 1}), "name"),
        (json!({"name": "a", "count": 0}), "count"),
        (json!({"name": "a", "count": 101}), "100"),
        (
            json!({"name": "a", "count": 1, "expired_time": 1}),
            "expiry",
        ),
    ] {
        let answer = root.post("/api/invitation/", body.clone()).await;
        assert!(!answer.success(), "{body}: {answer:?}");
        assert!(answer.message().contains(reason), "{body}: {answer:?}");
    }
    assert_eq!(root.get("/api/invitation/").await.data()["total"], 0);

    let created = root
        .post("/api/invitation/", json!({"name": "batch", "count": 3}))
        .await;
    assert!(created.success(), "{created:?}");
    let codes: Vec<String> = created
        .data()
        .as_array()
        .expect("codes")
        .iter()
        .map(|c| c.as_str().expect("code").to_string())
        .collect();
    assert_eq!(codes.len(), 3);
    for code in &codes {
        assert!(code.starts_with("INV-") && code.len() == 36, "{code}");
    }

    let listed = root.get("/api/invitation/?p=1&page_size=10").await;
    let rows = items(&listed);
    assert_eq!(listed.data()["total"], 3);
    assert_eq!(rows[0]["state"], "enabled");
    assert_eq!(rows[0]["status"], 1);
    assert_eq!(rows[0]["name"], "batch");
    let text = listed.body.to_string();
    for code in &codes {
        assert!(!text.contains(code.as_str()), "a code is never shown again");
    }
    let prefixes: Vec<&str> = rows
        .iter()
        .map(|r| r["code_prefix"].as_str().unwrap())
        .collect();
    assert!(prefixes.contains(&&codes[0][..8]), "{prefixes:?}");
    // The other spelling serves the same codes.
    assert_eq!(root.get("/api/invitation-code/").await.data()["total"], 3);

    let whole = format!("/api/invitation/search?keyword={}", codes[0].to_lowercase());
    let found = items(&root.get(&whole).await);
    assert_eq!(found.len(), 1, "{found:?}");
    let first_id = found[0]["id"].as_i64().unwrap();
    assert_eq!(
        items(&root.get("/api/invitation/search?status=used").await).len(),
        0
    );

    // Not required yet: registering needs no code.
    assert!(register(&url, "free1", "").await.success());

    // The pair is written together, never through the generic option route.
    for key in ["InvitationCodeRequired", "invitation_code_methods"] {
        let answer = put(&root, "/api/option/", json!({"key": key, "value": "true"})).await;
        assert!(!answer.success(), "{key}: {answer:?}");
    }
    for body in [
        json!({"required": true}),
        json!({"required": true, "methods": []}),
        json!({"required": true, "methods": ["ftp"]}),
        json!({"required": "yes", "methods": ["password"]}),
    ] {
        let answer = put(&root, "/api/option/invitation-code", body.clone()).await;
        assert!(!answer.success(), "{body}: {answer:?}");
    }
    let status = root.get("/api/status").await;
    assert_eq!(status.data()["invitation_code_required"], false);
    let set = put(
        &root,
        "/api/option/invitation-code",
        json!({"required": true, "methods": [" Password ", "linuxdo", "password"]}),
    )
    .await;
    assert!(set.success(), "{set:?}");
    assert_eq!(
        set.data(),
        &json!({"required": true, "methods": ["linuxdo", "password"]})
    );
    let status = root.get("/api/status").await;
    assert_eq!(status.data()["invitation_code_required"], true);
    assert_eq!(
        status.data()["invitation_code_methods"],
        json!(["linuxdo", "password"])
    );

    // Required now.
    let missing = register(&url, "nocode", "").await;
    assert!(!missing.success());
    assert!(missing.message().contains("required"), "{missing:?}");
    let bogus = register(&url, "bogus", "INV-NOSUCHCODE").await;
    assert!(!bogus.success());
    assert!(bogus.message().contains("Invalid"), "{bogus:?}");
    assert!(
        !can_log_in(&url, "bogus").await,
        "a refused registration leaves no user"
    );

    let spelled = format!("  {}  ", codes[0].to_lowercase());
    let joined = register(&url, "invited1", &spelled).await;
    assert!(joined.success(), "{joined:?}");
    assert!(can_log_in(&url, "invited1").await);
    let reused = register(&url, "invited2", &codes[0]).await;
    assert!(!reused.success());
    assert!(reused.message().contains("used"), "{reused:?}");
    assert!(!can_log_in(&url, "invited2").await);

    let used = root.get(&format!("/api/invitation/{first_id}")).await;
    assert!(used.success(), "{used:?}");
    assert_eq!(used.data()["state"], "used");
    assert_eq!(used.data()["status"], 3);
    assert_eq!(used.data()["used_username"], "invited1");
    assert!(used.data()["used_time"].as_i64().unwrap() > 0);
    let frozen = put(
        &root,
        "/api/invitation/?status_only=1",
        json!({"id": first_id, "status": 2}),
    )
    .await;
    assert!(
        !frozen.success(),
        "a used code keeps its status: {frozen:?}"
    );

    // A disabled code is refused until enabled again.
    let second_id = items(
        &root
            .get(&format!("/api/invitation/search?keyword={}", codes[1]))
            .await,
    )[0]["id"]
        .as_i64()
        .unwrap();
    let off = put(
        &root,
        "/api/invitation/?status_only=1",
        json!({"id": second_id, "status": 2}),
    )
    .await;
    assert!(off.success(), "{off:?}");
    assert_eq!(off.data()["state"], "disabled");
    let refused = register(&url, "invited3", &codes[1]).await;
    assert!(refused.message().contains("disabled"), "{refused:?}");
    assert_eq!(
        items(&root.get("/api/invitation/search?status=disabled").await).len(),
        1
    );
    let on = put(
        &root,
        "/api/invitation/?status_only=1",
        json!({"id": second_id, "status": 1}),
    )
    .await;
    assert!(on.success(), "{on:?}");

    // Renaming and expiry.
    let past = put(
        &root,
        "/api/invitation/",
        json!({"id": second_id, "name": "renamed", "expired_time": 5}),
    )
    .await;
    assert!(!past.success(), "{past:?}");
    let later = chrono_now() + 3600;
    let renamed = put(
        &root,
        "/api/invitation/",
        json!({"id": second_id, "name": "renamed", "expired_time": later}),
    )
    .await;
    assert!(renamed.success(), "{renamed:?}");
    assert_eq!(renamed.data()["name"], "renamed");
    assert_eq!(renamed.data()["expired_time"], later);

    // Two registrations race for the third code: exactly one wins.
    let (a, b) = tokio::join!(
        register(&url, "racer_a", &codes[2]),
        register(&url, "racer_b", &codes[2])
    );
    assert_eq!(
        [a.success(), b.success()].iter().filter(|s| **s).count(),
        1,
        "{a:?} {b:?}"
    );
    let logged: Vec<bool> = vec![
        can_log_in(&url, "racer_a").await,
        can_log_in(&url, "racer_b").await,
    ];
    assert_eq!(logged.iter().filter(|l| **l).count(), 1, "one racer exists");

    assert_eq!(
        items(&root.get("/api/invitation/search?status=used").await).len(),
        2
    );
    let purged = root
        .send(Method::DELETE, "/api/invitation/used", None)
        .await;
    assert!(purged.success(), "{purged:?}");
    assert_eq!(purged.data(), &json!(2));
    let deleted = root
        .send(
            Method::DELETE,
            &format!("/api/invitation/{second_id}"),
            None,
        )
        .await;
    assert!(deleted.success(), "{deleted:?}");
    let again = root
        .send(
            Method::DELETE,
            &format!("/api/invitation/{second_id}"),
            None,
        )
        .await;
    assert!(!again.success(), "{again:?}");
    assert_eq!(root.get("/api/invitation/").await.data()["total"], 0);

    // Switched off again: no code needed.
    let off = put(
        &root,
        "/api/option/invitation-code",
        json!({"required": false, "methods": []}),
    )
    .await;
    assert!(off.success(), "{off:?}");
    assert!(register(&url, "free2", "").await.success());
}

fn chrono_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64
}

on_every_backend!(invitation_codes_gate_registration);
