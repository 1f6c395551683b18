//! Invitations of the signed-in user: `GET /api/user/aff` (the user's own code, created once
//! even under concurrent first requests) and `POST /api/user/aff_transfer` (invitation quota
//! to quota: at least one unit, never above the balance, never overdrawn by concurrent
//! transfers, each logged). Bad input, a missing `New-Api-User` and other users' balances
//! change nothing.

use futures::future::join_all;
use pylon_tests::client::Answer;
use pylon_tests::fixtures::{ROOT_PASSWORD, console_with_role, database, root_console};
use pylon_tests::{Backend, Console, Pylon, on_every_backend};
use reqwest::StatusCode;
use serde_json::json;
use sqlx::AnyPool;

async fn int(pool: &AnyPool, sql: &'static str, id: i64) -> i64 {
    sqlx::query_scalar(sql)
        .bind(id)
        .fetch_one(pool)
        .await
        .expect(sql)
}

async fn invitations(backend: Backend) {
    let pylon = Pylon::start(backend).await;
    let _root = root_console(&pylon).await;
    let pool = database(&pylon).await;
    let alice = console_with_role(&pylon, &pool, "alice", 1).await;
    let bob = console_with_role(&pylon, &pool, "bob", 1).await;
    let (alice_id, bob_id) = (alice.user_id.unwrap(), bob.user_id.unwrap());

    // The code is created once, even by concurrent first requests, and differs per user.
    let codes: Vec<Answer> = join_all((0..8).map(|_| alice.get("/api/user/aff"))).await;
    let code = codes[0].data().as_str().expect("code").to_string();
    assert_eq!(code.len(), 4);
    assert!(codes.iter().all(|a| a.data() == &json!(code)), "{codes:?}");
    assert_eq!(alice.get("/api/user/aff").await.data(), &json!(code));
    assert_eq!(
        alice.get("/api/user/self").await.data()["aff_code"],
        json!(code)
    );
    let bob_code = bob.get("/api/user/aff").await;
    assert_ne!(bob_code.data(), &json!(code));

    // Transfers: minimum one unit, never above the invitation balance.
    sqlx::query("UPDATE users SET aff_quota = 1500000 WHERE id = ?")
        .bind(alice_id)
        .execute(&pool)
        .await
        .unwrap();
    let quota_before = int(&pool, "SELECT quota FROM users WHERE id = ?", alice_id).await;
    for (body, expected) in [
        (json!({"quota": 499_999}), "minimum"),
        (json!({"quota": -500_000}), "minimum"),
        (json!({}), "minimum"),
        (json!({"quota": 2_000_000}), "not enough"),
        (json!({"quota": "500000"}), "Invalid parameters"),
    ] {
        let answer = alice.post("/api/user/aff_transfer", body.clone()).await;
        assert!(!answer.success(), "{body} accepted");
        assert!(answer.message().contains(expected), "{body}: {answer:?}");
    }
    let answer = alice
        .post_raw("/api/user/aff_transfer", "{\"quota\": ")
        .await;
    assert!(answer.message().contains("Invalid parameters"));
    let mut no_header = Console::new(&pylon.base_url);
    no_header.login("alice", ROOT_PASSWORD).await;
    no_header.user_id = None;
    let answer = no_header
        .post("/api/user/aff_transfer", json!({"quota": 500_000}))
        .await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        int(&pool, "SELECT aff_quota FROM users WHERE id = ?", alice_id).await,
        1_500_000
    );

    // Ten concurrent transfers of a third of the balance: exactly three succeed.
    let answers: Vec<Answer> =
        join_all((0..10).map(|_| alice.post("/api/user/aff_transfer", json!({"quota": 500_000}))))
            .await;
    let succeeded = answers.iter().filter(|a| a.success()).count();
    assert_eq!(succeeded, 3, "{answers:?}");
    assert_eq!(
        int(&pool, "SELECT aff_quota FROM users WHERE id = ?", alice_id).await,
        0
    );
    assert_eq!(
        int(&pool, "SELECT quota FROM users WHERE id = ?", alice_id).await,
        quota_before + 1_500_000
    );
    assert_eq!(
        int(
            &pool,
            "SELECT COUNT(*) FROM logs WHERE user_id = ? AND type = 4",
            alice_id
        )
        .await,
        3
    );
    assert_eq!(
        int(
            &pool,
            "SELECT CAST(SUM(quota) AS SIGNED) FROM logs WHERE user_id = ? AND type = 4",
            alice_id
        )
        .await,
        1_500_000
    );
    assert_eq!(
        alice.get("/api/user/self").await.data()["quota"],
        quota_before + 1_500_000
    );

    // Bob's balances were never touched.
    assert_eq!(
        int(&pool, "SELECT aff_quota FROM users WHERE id = ?", bob_id).await,
        0
    );
    assert_eq!(
        int(
            &pool,
            "SELECT COUNT(*) FROM logs WHERE user_id = ? AND type = 4",
            bob_id
        )
        .await,
        0
    );
    let answer = bob
        .post("/api/user/aff_transfer", json!({"quota": 500_000}))
        .await;
    assert!(answer.message().contains("not enough"), "{answer:?}");
}
on_every_backend!(invitations);
