//! Login attempts are limited per client IP and per account; the limits hold on both backends
//! (on MySQL + Redis the counters live in Redis, shared by every node).

use pylon_tests::{Backend, Console, Pylon, on_every_backend};
use reqwest::StatusCode;
use serde_json::json;

const PASSWORD: &str = "correct-horse-9";

async fn account_locks_after_repeated_failures(backend: Backend) {
    let pylon = Pylon::builder(backend)
        .env("PYLON__AUTH__LOGIN_FAILURES_PER_ACCOUNT", "3")
        .env("PYLON__AUTH__LOGIN_ATTEMPTS_PER_IP", "100")
        .start()
        .await;
    let console = Console::new(&pylon.base_url);
    console.setup_root("root", PASSWORD).await;

    for _ in 0..3 {
        let answer = console
            .post(
                "/api/user/login",
                json!({"username": "root", "password": "wrong-password"}),
            )
            .await;
        assert_eq!(answer.status, StatusCode::OK);
        assert!(!answer.success());
    }
    // Locked now, even with the right password.
    let locked = console
        .post(
            "/api/user/login",
            json!({"username": "root", "password": PASSWORD}),
        )
        .await;
    assert_eq!(locked.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(!locked.success());
    assert!(locked.message().contains("Too many"));
}
on_every_backend!(account_locks_after_repeated_failures);

async fn client_ip_is_limited(backend: Backend) {
    let pylon = Pylon::builder(backend)
        .env("PYLON__AUTH__LOGIN_ATTEMPTS_PER_IP", "4")
        .start()
        .await;
    let console = Console::new(&pylon.base_url);
    console.setup_root("root", PASSWORD).await;
    let mut statuses = Vec::new();
    for i in 0..6 {
        let answer = console
            .post(
                "/api/user/login",
                json!({"username": format!("user{i}"), "password": "whatever-1"}),
            )
            .await;
        statuses.push(answer.status);
    }
    assert_eq!(&statuses[..4], &[StatusCode::OK; 4]);
    assert_eq!(&statuses[4..], &[StatusCode::TOO_MANY_REQUESTS; 2]);

    // A spoofed X-Real-IP from the client does not reset the budget: the proxy overwrites it.
    let spoofed = reqwest::Client::new()
        .post(format!("{}/api/user/login", pylon.base_url))
        .header("X-Real-IP", "203.0.113.9")
        .header("X-Forwarded-For", "203.0.113.9")
        .json(&json!({"username": "root", "password": PASSWORD}))
        .send()
        .await
        .expect("request");
    assert_eq!(spoofed.status(), StatusCode::TOO_MANY_REQUESTS);
}
on_every_backend!(client_ip_is_limited);
