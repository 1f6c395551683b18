//! A new operator's first minutes, through port 3000 as a new-api console would do them:
//! see that setup is needed, create root, log in, read self, get an access token and use it.

use pylon_tests::{Backend, Console, Pylon, on_every_backend};
use reqwest::StatusCode;
use serde_json::json;

const PASSWORD: &str = "correct-horse-9";

async fn first_run(backend: Backend) {
    let pylon = Pylon::start(backend).await;
    let mut console = Console::new(&pylon.base_url);

    // Setup is needed, and nobody can log in before it.
    let setup = console.get("/api/setup").await;
    assert!(setup.success());
    assert_eq!(setup.data()["status"], json!(false));
    assert_eq!(setup.data()["root_init"], json!(false));
    assert!(
        setup.body.get("message").is_none(),
        "new-api sends no message here"
    );
    assert_eq!(
        console.get("/api/setup/status").await.data()["status"],
        json!(false)
    );
    assert_eq!(
        console.get("/api/status").await.data()["setup"],
        json!(false)
    );
    let early = console
        .post(
            "/api/user/login",
            json!({"username": "root", "password": PASSWORD}),
        )
        .await;
    assert!(!early.success());

    // Bad setup requests change nothing.
    for (body, expected) in [
        (
            json!({"username": "root", "password": PASSWORD, "confirmPassword": "other-pass-1"}),
            "do not match",
        ),
        (
            json!({"username": "root", "password": "short", "confirmPassword": "short"}),
            "at least 8",
        ),
        (
            json!({"username": "", "password": PASSWORD, "confirmPassword": PASSWORD}),
            "must not be empty",
        ),
        (
            json!({"username": "a-name-much-longer-than-twenty", "password": PASSWORD, "confirmPassword": PASSWORD}),
            "exceed",
        ),
        (
            json!({"username": 5, "password": PASSWORD, "confirmPassword": PASSWORD}),
            "Invalid parameters",
        ),
    ] {
        let answer = console.post("/api/setup", body).await;
        assert_eq!(answer.status, StatusCode::OK);
        assert!(!answer.success());
        assert!(
            answer.message().contains(expected),
            "{answer:?} should mention {expected}"
        );
    }
    let malformed = console.post_raw("/api/setup", "{\"username\": ").await;
    assert!(!malformed.success());
    assert!(malformed.message().starts_with("Invalid parameters"));
    assert_eq!(
        console.get("/api/setup").await.data()["status"],
        json!(false)
    );

    // Setup once; a second setup is refused.
    console.setup_root("root", PASSWORD).await;
    let setup = console.get("/api/setup").await;
    assert_eq!(setup.data()["status"], json!(true));
    assert_eq!(setup.data()["root_init"], json!(true));
    let again = console
        .post("/api/setup", json!({"username": "evil", "password": "evil-pass-1", "confirmPassword": "evil-pass-1"}))
        .await;
    assert!(!again.success());
    assert!(again.message().contains("already been initialized"));
    assert_eq!(
        console.get("/api/status").await.data()["setup"],
        json!(true)
    );

    // Wrong password: same 200 + success:false answer as for an unknown user.
    let wrong = console
        .post(
            "/api/user/login",
            json!({"username": "root", "password": "not-the-password"}),
        )
        .await;
    assert_eq!(wrong.status, StatusCode::OK);
    assert!(!wrong.success());
    let unknown = console
        .post(
            "/api/user/login",
            json!({"username": "nobody", "password": PASSWORD}),
        )
        .await;
    assert_eq!(unknown.message(), wrong.message());
    let malformed = console.post_raw("/api/user/login", "not json").await;
    assert!(!malformed.success());
    assert!(malformed.message().starts_with("Invalid parameters"));
    let empty = console
        .post("/api/user/login", json!({"username": "root"}))
        .await;
    assert_eq!(empty.message(), "Invalid parameters");

    // Log in; the session cookie and New-Api-User read self.
    let user = console.login("root", PASSWORD).await;
    assert_eq!(user["role"], json!(100));
    assert_eq!(user["username"], json!("root"));
    let me = console.get("/api/user/self").await;
    assert!(me.success(), "{me:?}");
    assert_eq!(me.data()["username"], json!("root"));
    assert_eq!(me.data()["display_name"], json!("Root User"));
    assert_eq!(me.data()["quota"], json!(100_000_000));
    assert!(me.data().get("password").is_none());
    assert!(me.data().get("access_token").is_none());

    // New-Api-User is required and must match.
    let root_id = console.user_id.expect("logged in");
    for (header, expected) in [
        (None, "not provided"),
        (Some(root_id + 1), "does not match"),
    ] {
        console.user_id = header;
        let answer = console.get("/api/user/self").await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
        assert!(!answer.success());
        assert!(answer.message().contains(expected), "{answer:?}");
    }
    console.user_id = Some(root_id);
    let client = reqwest::Client::new();
    let malformed_id = client
        .get(format!("{}/api/user/self", pylon.base_url))
        .header("New-Api-User", "root")
        .header("Authorization", "Bearer whatever")
        .send()
        .await
        .expect("request");
    assert_eq!(malformed_id.status(), StatusCode::UNAUTHORIZED);

    // An access token works from a client without the cookie, with or without "Bearer".
    let token = console.get("/api/user/token").await;
    assert!(token.success());
    let token = token.data().as_str().expect("token string").to_string();
    assert!(token.len() >= 32);
    let mut api = Console::new(&pylon.base_url);
    api.user_id = Some(root_id);
    api.bearer = Some(token.clone());
    assert_eq!(
        api.get("/api/user/self").await.data()["username"],
        json!("root")
    );
    let bare = client
        .get(format!("{}/api/user/self", pylon.base_url))
        .header("New-Api-User", root_id.to_string())
        .header("Authorization", &token)
        .send()
        .await
        .expect("request");
    assert_eq!(bare.status(), StatusCode::OK);
    api.user_id = None;
    assert_eq!(
        api.get("/api/user/self").await.status,
        StatusCode::UNAUTHORIZED
    );
    api.user_id = Some(root_id);

    // No credentials at all, and a forged token.
    let anonymous = Console::new(&pylon.base_url);
    let answer = anonymous.get("/api/user/self").await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    assert!(answer.message().contains("not logged in"));
    let mut forged = Console::new(&pylon.base_url);
    forged.user_id = Some(root_id);
    forged.bearer = Some("forged-token-forged-token-forged".into());
    let answer = forged.get("/api/user/self").await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    assert!(answer.message().contains("invalid"));

    // Regenerating the token revokes the old one.
    let newer = console
        .get("/api/user/token")
        .await
        .data()
        .as_str()
        .expect("token")
        .to_string();
    assert_ne!(newer, token);
    assert_eq!(
        api.get("/api/user/self").await.status,
        StatusCode::UNAUTHORIZED
    );
    api.bearer = Some(newer.clone());
    assert!(api.get("/api/user/self").await.success());

    // Everything survives a restart (a crash, even).
    let mut pylon = pylon;
    pylon.restart().await;
    assert!(
        api.get("/api/user/self").await.success(),
        "access token lost on restart"
    );
    assert!(
        console.get("/api/user/self").await.success(),
        "session lost on restart"
    );
    assert_eq!(
        console.get("/api/setup").await.data()["status"],
        json!(true)
    );
    let again = console
        .post("/api/setup", json!({"username": "evil", "password": "evil-pass-1", "confirmPassword": "evil-pass-1"}))
        .await;
    assert!(!again.success());

    // Logout revokes the session server-side: replaying its cookie no longer works.
    let cookie = session_cookie(&pylon.base_url, "root", PASSWORD).await;
    let with_cookie = |cookie: String| {
        let client = client.clone();
        let url = format!("{}/api/user/self", pylon.base_url);
        async move {
            client
                .get(url)
                .header("Cookie", cookie)
                .header("New-Api-User", root_id.to_string())
                .send()
                .await
                .expect("request")
                .status()
        }
    };
    assert_eq!(with_cookie(cookie.clone()).await, StatusCode::OK);
    let logout = client
        .get(format!("{}/api/user/logout", pylon.base_url))
        .header("Cookie", cookie.clone())
        .send()
        .await
        .expect("logout");
    assert!(
        logout
            .headers()
            .get("set-cookie")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.contains("Max-Age=0"))
    );
    assert_eq!(with_cookie(cookie).await, StatusCode::UNAUTHORIZED);
    // A tampered cookie is no session either.
    let tampered = session_cookie(&pylon.base_url, "root", PASSWORD).await;
    let tampered = format!("{}x", tampered);
    assert_eq!(with_cookie(tampered).await, StatusCode::UNAUTHORIZED);
}
on_every_backend!(first_run);

/// Logs in with a cookie-less client and returns the `session=...` cookie pair.
async fn session_cookie(base_url: &str, username: &str, password: &str) -> String {
    let response = reqwest::Client::new()
        .post(format!("{base_url}/api/user/login"))
        .json(&json!({"username": username, "password": password}))
        .send()
        .await
        .expect("login");
    let header = response
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .expect("session cookie")
        .to_string();
    header.split(';').next().unwrap_or_default().to_string()
}

async fn expired_sessions_and_tokens_are_refused(backend: Backend) {
    let pylon = Pylon::start(backend).await;
    let mut console = Console::new(&pylon.base_url);
    console.setup_root("root", PASSWORD).await;
    console.login("root", PASSWORD).await;
    let token = console
        .get("/api/user/token")
        .await
        .data()
        .as_str()
        .expect("token")
        .to_string();
    assert!(console.get("/api/user/self").await.success());

    // Expire the session and the access token where they are kept.
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&pylon.database_url())
        .await
        .expect("database");
    sqlx::query("UPDATE sessions SET expires_at = 1")
        .execute(&pool)
        .await
        .expect("expire session");
    sqlx::query("UPDATE users SET access_token_expires_at = 1")
        .execute(&pool)
        .await
        .expect("expire token");
    pool.close().await;

    let answer = console.get("/api/user/self").await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    assert!(answer.message().contains("not logged in"), "{answer:?}");
    let mut api = Console::new(&pylon.base_url);
    api.user_id = console.user_id;
    api.bearer = Some(token);
    let answer = api.get("/api/user/self").await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    assert!(!answer.success());
}
on_every_backend!(expired_sessions_and_tokens_are_refused);

async fn concurrent_setups_create_exactly_one_root(backend: Backend) {
    let pylon = Pylon::start(backend).await;
    let attempts = (0..6).map(|i| {
        let console = Console::new(&pylon.base_url);
        async move {
            let password = format!("password-{i}-long");
            console
                .post(
                    "/api/setup",
                    json!({"username": format!("root{i}"), "password": password, "confirmPassword": password}),
                )
                .await
                .success()
        }
    });
    let results = futures_join_all(attempts).await;
    assert_eq!(results.iter().filter(|ok| **ok).count(), 1, "{results:?}");

    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&pylon.database_url())
        .await
        .expect("database");
    let roots: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users WHERE role = 100")
        .fetch_one(&pool)
        .await
        .expect("count");
    assert_eq!(roots, 1);
    pool.close().await;
}
on_every_backend!(concurrent_setups_create_exactly_one_root);

async fn futures_join_all<F: std::future::Future<Output = bool> + Send + 'static>(
    futures: impl Iterator<Item = F>,
) -> Vec<bool> {
    let handles: Vec<_> = futures.map(tokio::spawn).collect();
    let mut results = Vec::new();
    for handle in handles {
        results.push(handle.await.expect("task"));
    }
    results
}
