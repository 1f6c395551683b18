//! new-api's `POST /api/oauth/email/bind`: a signed-in user binds an address with the code
//! `GET /api/verification` mailed to it (read from an SMTP sink). The code works once and only
//! for its address; an address another account took meanwhile, a wrong code, a malformed body
//! or no session are refused and change nothing.

use pylon_tests::custom_oauth_fixtures::refused_with;
use pylon_tests::fixtures::{console_with_role, database};
use pylon_tests::registration_fixtures::{other_than, pylon_with_mail, verification_code};
use pylon_tests::{Backend, Console, on_every_backend};
use reqwest::StatusCode;
use serde_json::json;

const BIND: &str = "/api/oauth/email/bind";

async fn binds_a_verified_address_once(backend: Backend) {
    let (pylon, sink, _root) = pylon_with_mail(backend).await;
    let pool = database(&pylon).await;
    let ada = console_with_role(&pylon, &pool, "ada", 1).await;
    let bob = console_with_role(&pylon, &pool, "bob", 1).await;
    let email_of = |id: i64| {
        let pool = pool.clone();
        async move {
            sqlx::query_scalar::<_, String>("SELECT email FROM users WHERE id = ?")
                .bind(id)
                .fetch_one(&pool)
                .await
                .expect("email")
        }
    };
    let ada_id = ada.user_id.expect("id");
    let bob_id = bob.user_id.expect("id");

    // A wrong code, another address's code, a malformed body, no session: nothing changes.
    let code = verification_code(&ada, &sink, "ada@mail.example").await;
    for body in [
        json!({"email": "ada@mail.example", "code": other_than(&code)}),
        json!({"email": "other@mail.example", "code": code}),
        json!({"email": "not-an-address", "code": code}),
        json!({"email": "ada@mail.example"}),
    ] {
        let answer = ada.post(BIND, body.clone()).await;
        assert_eq!(answer.status, StatusCode::OK, "{body}: {answer:?}");
        assert!(!answer.success(), "{body} should be refused: {answer:?}");
    }
    refused_with(
        &ada.post_raw(BIND, "{\"email\": 1").await,
        StatusCode::OK,
        "Invalid parameters",
    );
    let anonymous = Console::new(&pylon.base_url);
    let answer = anonymous
        .post(BIND, json!({"email": "ada@mail.example", "code": code}))
        .await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{answer:?}");
    assert_eq!(email_of(ada_id).await, "");

    // The right code (the address as typed, normalized): bound, once.
    let code = verification_code(&ada, &sink, "ada@mail.example").await;
    let bound = ada
        .post(BIND, json!({"email": " Ada@Mail.example ", "code": code}))
        .await;
    assert!(bound.success(), "{bound:?}");
    assert_eq!(bound.message(), "");
    assert_eq!(email_of(ada_id).await, "ada@mail.example");
    let again = bob
        .post(BIND, json!({"email": "ada@mail.example", "code": code}))
        .await;
    refused_with(&again, StatusCode::OK, "verification code");
    assert_eq!(email_of(bob_id).await, "");

    // new-api's older consoles send the query string.
    let code = verification_code(&bob, &sink, "bob@mail.example").await;
    let by_query = bob
        .post_raw(&format!("{BIND}?email=bob@mail.example&code={code}"), "")
        .await;
    assert!(by_query.success(), "{by_query:?}");
    assert_eq!(email_of(bob_id).await, "bob@mail.example");

    // An address someone took after its code was mailed: refused by the statement that binds.
    let code = verification_code(&bob, &sink, "shared@mail.example").await;
    sqlx::query("UPDATE users SET email = 'shared@mail.example' WHERE id = ?")
        .bind(ada_id)
        .execute(&pool)
        .await
        .expect("take the address");
    let taken = bob
        .post(BIND, json!({"email": "shared@mail.example", "code": code}))
        .await;
    refused_with(&taken, StatusCode::OK, "already used by another account");
    assert_eq!(email_of(bob_id).await, "bob@mail.example");
}
on_every_backend!(binds_a_verified_address_once);
