//! `DELETE /api/user/{id}/bindings/{binding_type}` (new-api's `AdminClearUserBinding`) on
//! SQLite and on MySQL + Redis, with the control plane served in this process: an
//! administrator clears one sign-in binding of a user of a lower role, root of anyone, with an
//! audit row; an unknown binding type, an unknown user, a user of the same role, a common user
//! and an anonymous caller are refused and change nothing.

use pylon_tests::in_process::InProcess;
use pylon_tests::user_admin_fixtures::{INSUFFICIENT, NO_EDIT, NOT_FOUND, PASSWORD, create_user};
use pylon_tests::{Backend, Console, on_every_backend};
use reqwest::{Method, StatusCode};
use sqlx::AnyPool;

async fn logged_in(base_url: &str, username: &str) -> Console {
    let mut console = Console::new(base_url);
    console.login(username, PASSWORD).await;
    console
}

/// The user's bindings: email, github_id, oidc_id.
async fn bindings(pool: &AnyPool, id: i64) -> (String, String, String) {
    sqlx::query_as("SELECT email, github_id, oidc_id FROM users WHERE id = ?")
        .bind(id)
        .fetch_one(pool)
        .await
        .unwrap()
}

async fn bind_all(pool: &AnyPool, id: i64, name: &str) {
    sqlx::query("UPDATE users SET email = ?, github_id = ?, oidc_id = ? WHERE id = ?")
        .bind(format!("{name}@example.com"))
        .bind(format!("gh-{name}"))
        .bind(format!("sub-{name}"))
        .bind(id)
        .execute(pool)
        .await
        .unwrap();
}

async fn clear(console: &Console, id: i64, binding: &str) -> pylon_tests::client::Answer {
    console
        .send(
            Method::DELETE,
            &format!("/api/user/{id}/bindings/{binding}"),
            None,
        )
        .await
}

async fn bindings_are_cleared_by_administrators(backend: Backend) {
    let plane = InProcess::start(backend).await;
    let base = plane.base_url.clone();
    let mut root = Console::new(&base);
    root.setup_root("root", PASSWORD).await;
    root.login("root", PASSWORD).await;
    let alice = create_user(&root, "alice", 1).await;
    create_user(&root, "admin1", 10).await;
    let admin2 = create_user(&root, "admin2", 10).await;
    let admin = logged_in(&base, "admin1").await;
    let alice_console = logged_in(&base, "alice").await;
    sqlx::any::install_default_drivers();
    let pool = AnyPool::connect(&plane.state.config.database.url)
        .await
        .unwrap();
    bind_all(&pool, alice, "alice").await;
    bind_all(&pool, admin2, "admin2").await;

    let cleared = clear(&admin, alice, "oidc").await;
    assert!(cleared.success(), "{cleared:?}");
    assert_eq!(cleared.message(), "success");
    assert_eq!(
        bindings(&pool, alice).await,
        ("alice@example.com".into(), "gh-alice".into(), String::new())
    );
    // The type is read case-insensitively, as new-api reads it.
    assert!(clear(&admin, alice, "GitHub").await.success());
    assert_eq!(
        bindings(&pool, alice).await,
        ("alice@example.com".into(), String::new(), String::new())
    );
    let audited: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM logs WHERE user_id = ? AND type = 3 AND content LIKE '%binding%'",
    )
    .bind(alice)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(audited, 2);

    // Refusals change nothing.
    let unknown_type = clear(&admin, alice, "myspace").await;
    assert!(!unknown_type.success(), "{unknown_type:?}");
    assert!(unknown_type.message().contains("binding type"));
    let unknown_user = clear(&admin, 999_999, "email").await;
    assert_eq!(unknown_user.message(), NOT_FOUND);
    let same_role = clear(&admin, admin2, "email").await;
    assert_eq!(same_role.message(), NO_EDIT);
    let common = clear(&alice_console, alice, "email").await;
    assert_eq!(common.message(), INSUFFICIENT);
    let anonymous = clear(&Console::new(&base), alice, "email").await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
    let not_an_id = clear(&admin, 0, "email").await;
    assert!(!not_an_id.success(), "{not_an_id:?}");
    assert_eq!(
        bindings(&pool, alice).await,
        ("alice@example.com".into(), String::new(), String::new())
    );
    assert_eq!(
        bindings(&pool, admin2).await,
        (
            "admin2@example.com".into(),
            "gh-admin2".into(),
            "sub-admin2".into()
        )
    );

    // Root clears an administrator's.
    assert!(clear(&root, admin2, "email").await.success());
    assert_eq!(bindings(&pool, admin2).await.0, "");
}
on_every_backend!(bindings_are_cleared_by_administrators);
