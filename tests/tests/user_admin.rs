//! Administrators' user management through port 3000, as new-api's admin console does it:
//! create, list, search, get, edit, quota changes with their audit rows, disable and enable
//! (the relay refuses and accepts the user's keys again within the propagation bound),
//! promote, demote, delete; who may act on whom; the last root; bad input that changes
//! nothing; and that `/api/user/{id}` does not shadow the static `/api/user/*` routes.

use pylon_tests::client::Answer;
use pylon_tests::fixtures::{ROOT_PASSWORD, console_with_role, database, root_console};
use pylon_tests::user_admin_fixtures::{
    INSUFFICIENT, NO_EDIT, NO_VIEW, NOT_FOUND, PASSWORD, column, create_user, delete, logged_in,
    manage, manage_logs, propagation_bound, put, put_raw, refused, relay_answers, sk_key,
    users_snapshot,
};
use pylon_tests::{Backend, Console, Pylon, on_every_backend};
use reqwest::StatusCode;
use serde_json::json;
use std::time::Duration;
async fn admin_manages_common_users(backend: Backend) {
    let pylon = Pylon::start(backend).await;
    let pool = database(&pylon).await;
    let root = root_console(&pylon).await;
    let admin_id = create_user(&root, "admin1", 10).await;
    let admin = logged_in(&pylon, "admin1").await;
    let created = admin
        .post(
            "/api/user/",
            json!({ "username": "alice", "password": PASSWORD, "display_name": "Alice" }),
        )
        .await;
    assert!(created.success(), "{created:?}");
    let alice_id = created.data()["id"].as_i64().unwrap();
    assert_eq!(created.data()["role"], json!(1));
    assert_eq!(created.data()["group"], json!("default"));
    assert_eq!(created.data()["display_name"], json!("Alice"));
    let bob_id = create_user(&admin, "bob", 1).await;
    assert_eq!(
        manage_logs(&pool, alice_id).await.len(),
        1,
        "creation is audited"
    );

    // List: paginated, newest first, never a password hash or an access token.
    let page = admin.get("/api/user/?p=1&page_size=3").await;
    assert!(page.success(), "{page:?}");
    assert_eq!(page.data()["total"], json!(4));
    assert_eq!(page.data()["page"], json!(1));
    assert_eq!(page.data()["page_size"], json!(3));
    let items = page.data()["items"].as_array().unwrap();
    assert_eq!(items.len(), 3);
    assert_eq!(items[0]["id"], json!(bob_id));
    for item in items {
        let object = item.as_object().unwrap();
        assert!(!object.contains_key("password") && !object.contains_key("access_token"));
        assert!(!object.contains_key("access_token_hash"));
    }
    let second = admin.get("/api/user/?p=2&page_size=3").await;
    assert_eq!(second.data()["items"].as_array().unwrap().len(), 1);
    let by_name = admin
        .get("/api/user/?sort_by=username&sort_order=asc")
        .await;
    assert_eq!(by_name.data()["items"][0]["username"], json!("admin1"));

    // Search by part of a name (any case), by id, by display name, within a group.
    let names = |answer: &Answer| -> Vec<String> {
        answer.data()["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["username"].as_str().unwrap().to_string())
            .collect()
    };
    let found = admin.get("/api/user/search?keyword=LIC").await;
    assert_eq!(names(&found), ["alice"], "{found:?}");
    assert_eq!(found.data()["total"], json!(1));
    let found = admin
        .get(&format!("/api/user/search?keyword={alice_id}"))
        .await;
    assert!(names(&found).contains(&"alice".to_string()), "{found:?}");
    let found = admin
        .get("/api/user/search?keyword=alice&group=default")
        .await;
    assert_eq!(names(&found), ["alice"]);
    let found = admin.get("/api/user/search?keyword=alice&group=vip").await;
    assert!(names(&found).is_empty());
    let found = admin.get("/api/user/search?keyword=%25").await;
    assert!(names(&found).is_empty(), "% matches itself: {found:?}");
    let found = admin.get("/api/user/search?role=10").await;
    assert_eq!(names(&found), ["admin1"]);

    // Get and edit.
    let got = admin.get(&format!("/api/user/{alice_id}")).await;
    assert!(got.success(), "{got:?}");
    assert_eq!(got.data()["username"], json!("alice"));
    assert!(got.data().get("password").is_none());
    let edited = put(
        &admin,
        "/api/user/",
        json!({ "id": alice_id, "display_name": "Alice A", "remark": "key account",
                "email": "Alice@Example.com", "role": 1, "status": 1 }),
    )
    .await;
    assert!(edited.success(), "{edited:?}");
    let got = admin.get(&format!("/api/user/{alice_id}")).await;
    assert_eq!(got.data()["display_name"], json!("Alice A"));
    assert_eq!(got.data()["remark"], json!("key account"));
    assert_eq!(got.data()["email"], json!("alice@example.com"));
    let found = admin.get("/api/user/search?keyword=example.com").await;
    assert_eq!(names(&found), ["alice"]);

    // Disable: the session ends and the relay refuses the key within the bound; enable: back.
    let alice = logged_in(&pylon, "alice").await;
    let key = sk_key(&alice, "alice-key").await;
    relay_answers(&pylon, &key, 200, Duration::from_secs(5)).await;
    let disabled = manage(&admin, alice_id, "disable").await;
    assert!(disabled.success(), "{disabled:?}");
    assert_eq!(disabled.data(), &json!({ "role": 1, "status": 2 }));
    let took = relay_answers(&pylon, &key, 403, propagation_bound(backend)).await;
    eprintln!("disable reached the relay in {took:?}");
    assert!(!alice.get("/api/user/self").await.success());
    let relogin = Console::new(&pylon.base_url)
        .post(
            "/api/user/login",
            json!({ "username": "alice", "password": PASSWORD }),
        )
        .await;
    assert!(!relogin.success(), "a disabled user cannot log in");
    assert_eq!(
        column(&pool, "SELECT status FROM users WHERE id = ?", alice_id).await,
        2
    );
    let enabled = manage(&admin, alice_id, "enable").await;
    assert!(enabled.success(), "{enabled:?}");
    assert_eq!(enabled.data()["status"], json!(1));
    let took = relay_answers(&pylon, &key, 200, propagation_bound(backend)).await;
    eprintln!("enable reached the relay in {took:?}");
    let alice = logged_in(&pylon, "alice").await;
    assert!(alice.get("/api/user/self").await.success());
    let audit = manage_logs(&pool, alice_id).await;
    assert!(audit.iter().any(|c| c.contains("disabled the account")));
    assert!(audit.iter().any(|c| c.contains("enabled the account")));

    // Quota: set through the edit, audited with old and new values, visible in /api/log/.
    let edited = put(
        &admin,
        "/api/user/",
        json!({ "id": alice_id, "quota": 1_000_000 }),
    )
    .await;
    assert!(edited.success(), "{edited:?}");
    assert_eq!(edited.data()["quota"], json!(1_000_000));
    assert_eq!(
        column(&pool, "SELECT quota FROM users WHERE id = ?", alice_id).await,
        1_000_000
    );
    let audit = manage_logs(&pool, alice_id).await;
    let last = audit.last().unwrap();
    assert!(
        last.contains("admin1") && last.contains("from 0") && last.contains("to 1000000"),
        "{last}"
    );
    let logs = admin.get("/api/log/?type=3&p=1&page_size=100").await;
    assert!(logs.success(), "{logs:?}");
    assert!(
        logs.data()["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l["user_id"] == json!(alice_id) && l["content"] == json!(last)),
        "{logs:?}"
    );
    let own = alice.get("/api/log/self?type=3").await;
    assert!(own.data()["total"].as_i64().unwrap() >= 1);
    // The same value again writes nothing.
    put(
        &admin,
        "/api/user/",
        json!({ "id": alice_id, "quota": 1_000_000 }),
    )
    .await;
    assert_eq!(manage_logs(&pool, alice_id).await.len(), audit.len());

    // new-api's add_quota action: add, subtract (never below zero), override.
    let add = json!({ "id": alice_id, "action": "add_quota", "mode": "add", "value": 500 });
    let added = admin.post("/api/user/manage", add).await;
    assert!(added.success(), "{added:?}");
    assert_eq!(added.data()["quota"], json!(1_000_500));
    let too_much =
        json!({ "id": alice_id, "action": "add_quota", "mode": "subtract", "value": 2_000_000 });
    refused(
        &admin.post("/api/user/manage", too_much).await,
        "Insufficient quota",
    );
    let set = json!({ "id": alice_id, "action": "add_quota", "mode": "override", "value": 42 });
    assert_eq!(
        admin.post("/api/user/manage", set).await.data()["quota"],
        json!(42)
    );
    assert_eq!(
        column(&pool, "SELECT quota FROM users WHERE id = ?", alice_id).await,
        42
    );

    // Groups: only known ones (GET /api/group/), set through the options.
    refused(
        &put(
            &admin,
            "/api/user/",
            json!({ "id": alice_id, "group": "vip" }),
        )
        .await,
        "Unknown group vip",
    );
    let groups = admin.get("/api/group/").await;
    assert_eq!(groups.data(), &json!(["default"]));
    let ratio = put(
        &root,
        "/api/option/",
        json!({ "key": "GroupRatio", "value": "{\"default\": 1, \"vip\": 2}" }),
    )
    .await;
    assert!(ratio.success(), "{ratio:?}");
    let usable = put(
        &root,
        "/api/option/",
        json!({ "key": "UserUsableGroups", "value": {"default": "Default", "vip": "VIP"} }),
    )
    .await;
    assert!(usable.success(), "{usable:?}");
    assert_eq!(
        admin.get("/api/group").await.data(),
        &json!(["default", "vip"])
    );
    let moved = put(
        &admin,
        "/api/user/",
        json!({ "id": alice_id, "group": "vip" }),
    )
    .await;
    assert!(moved.success(), "{moved:?}");
    assert_eq!(moved.data()["group"], json!("vip"));
    let found = admin.get("/api/user/search?group=vip").await;
    assert_eq!(names(&found), ["alice"]);

    // A new password ends the user's sessions; the new one works.
    let reset = put(
        &admin,
        "/api/user/",
        json!({ "id": alice_id, "password": "brand-new-pass-2" }),
    )
    .await;
    assert!(reset.success(), "{reset:?}");
    assert!(!alice.get("/api/user/self").await.success());
    Console::new(&pylon.base_url)
        .login("alice", "brand-new-pass-2")
        .await;

    // Delete: soft, the user cannot log in, is not listed, and the name stays taken.
    let bob = logged_in(&pylon, "bob").await;
    let bob_key = sk_key(&bob, "bob-key").await;
    relay_answers(&pylon, &bob_key, 200, Duration::from_secs(5)).await;
    let deleted = manage(&admin, bob_id, "delete").await;
    assert!(deleted.success(), "{deleted:?}");
    relay_answers(&pylon, &bob_key, 401, propagation_bound(backend)).await;
    assert!(!bob.get("/api/user/self").await.success());
    let relogin = Console::new(&pylon.base_url)
        .post(
            "/api/user/login",
            json!({ "username": "bob", "password": PASSWORD }),
        )
        .await;
    assert!(!relogin.success(), "a deleted user cannot log in");
    assert_eq!(
        column(
            &pool,
            "SELECT COUNT(*) FROM users WHERE id = ? AND deleted_at IS NOT NULL",
            bob_id
        )
        .await,
        1
    );
    let page = admin.get("/api/user/").await;
    assert_eq!(page.data()["total"], json!(3));
    assert!(names(&admin.get("/api/user/search?keyword=bob").await).is_empty());
    refused(&admin.get(&format!("/api/user/{bob_id}")).await, NOT_FOUND);
    refused(&manage(&admin, bob_id, "enable").await, NOT_FOUND);
    refused(
        &admin
            .post(
                "/api/user/",
                json!({ "username": "bob", "password": PASSWORD }),
            )
            .await,
        "already exists",
    );
    assert!(
        manage_logs(&pool, bob_id)
            .await
            .iter()
            .any(|c| c.contains("deleted"))
    );

    // DELETE /api/user/{id} does the same.
    let carol_id = create_user(&admin, "carol", 1).await;
    let gone = delete(&admin, &format!("/api/user/{carol_id}")).await;
    assert!(gone.success(), "{gone:?}");
    refused(
        &admin.get(&format!("/api/user/{carol_id}")).await,
        NOT_FOUND,
    );
    let audit = manage_logs(&pool, admin_id).await;
    assert!(
        audit[0].contains("root") && audit[0].contains("as administrator"),
        "{audit:?}"
    );
}

on_every_backend!(admin_manages_common_users);

async fn privileges_and_the_last_root(backend: Backend) {
    let pylon = Pylon::start(backend).await;
    let pool = database(&pylon).await;
    let root = root_console(&pylon).await;
    let root_id = root.user_id.unwrap();
    let admin1_id = create_user(&root, "admin1", 10).await;
    let admin2_id = create_user(&root, "admin2", 10).await;
    let dave_id = create_user(&root, "dave", 1).await;
    let admin1 = logged_in(&pylon, "admin1").await;
    let before = users_snapshot(&pool).await;

    // An admin cannot read, edit or manage another admin or root, promote, or create admins.
    for id in [admin2_id, root_id] {
        refused(&admin1.get(&format!("/api/user/{id}")).await, NO_VIEW);
        refused(
            &put(
                &admin1,
                "/api/user/",
                json!({ "id": id, "display_name": "x" }),
            )
            .await,
            NO_EDIT,
        );
        for action in ["disable", "enable", "delete", "demote", "promote"] {
            refused(&manage(&admin1, id, action).await, NO_EDIT);
        }
        let add = json!({ "id": id, "action": "add_quota", "mode": "add", "value": 5 });
        refused(&admin1.post("/api/user/manage", add).await, NO_EDIT);
        refused(&delete(&admin1, &format!("/api/user/{id}")).await, NO_EDIT);
    }
    refused(&manage(&admin1, admin1_id, "disable").await, NO_EDIT);
    refused(&manage(&admin1, dave_id, "promote").await, "cannot promote");
    refused(
        &admin1
            .post(
                "/api/user/",
                json!({ "username": "eve", "password": PASSWORD, "role": 10 }),
            )
            .await,
        "equal to or higher",
    );
    assert_eq!(users_snapshot(&pool).await, before, "nothing changed");

    // Root promotes and demotes; the demoted admin's console loses its admin rights at once.
    let promoted = manage(&root, dave_id, "promote").await;
    assert!(promoted.success(), "{promoted:?}");
    assert_eq!(promoted.data()["role"], json!(10));
    refused(
        &manage(&root, dave_id, "promote").await,
        "already an administrator",
    );
    let dave = logged_in(&pylon, "dave").await;
    assert!(dave.get("/api/user/").await.success());
    let demoted = manage(&root, dave_id, "demote").await;
    assert!(demoted.success(), "{demoted:?}");
    assert_eq!(demoted.data()["role"], json!(1));
    refused(
        &manage(&root, dave_id, "demote").await,
        "already a common user",
    );
    assert!(!dave.get("/api/user/").await.success());
    let audit = manage_logs(&pool, dave_id).await;
    assert!(audit.iter().any(|c| c.contains("to administrator")));
    assert!(audit.iter().any(|c| c.contains("to common user")));

    // Nobody can disable, demote or delete the last enabled root.
    refused(&manage(&root, root_id, "disable").await, "last enabled");
    refused(&manage(&root, root_id, "demote").await, "last enabled");
    refused(&manage(&root, root_id, "delete").await, "last enabled");
    refused(
        &delete(&root, &format!("/api/user/{root_id}")).await,
        "last enabled",
    );
    // With a second root, one may go; a disabled root does not count as the other one.
    let root2 = console_with_role(&pylon, &pool, "root2", 100).await;
    let root2_id = root2.user_id.unwrap();
    let disabled = manage(&root, root2_id, "disable").await;
    assert!(disabled.success(), "{disabled:?}");
    refused(&manage(&root, root_id, "disable").await, "last enabled");
    refused(&manage(&root, root_id, "demote").await, "last enabled");
    assert!(manage(&root, root2_id, "enable").await.success());
    // Disabling ended root2's sessions: log in again.
    let root2 = {
        let mut console = Console::new(&pylon.base_url);
        console.login("root2", ROOT_PASSWORD).await;
        console
    };
    let demoted = manage(&root2, root_id, "demote").await;
    assert!(demoted.success(), "root2 may demote root: {demoted:?}");
    refused(&manage(&root2, root2_id, "delete").await, "last enabled");
    assert_eq!(
        column(&pool, "SELECT role FROM users WHERE id = ?", root2_id).await,
        100
    );
    assert_eq!(
        column(&pool, "SELECT status FROM users WHERE id = ?", root2_id).await,
        1
    );

    // A common user gets the insufficient-privileges answer everywhere here.
    let user = logged_in(&pylon, "dave").await;
    let attempts = [
        user.get("/api/user/").await,
        user.get("/api/user/search?keyword=a").await,
        user.get(&format!("/api/user/{admin1_id}")).await,
        user.get(&format!("/api/user/{dave_id}")).await,
        user.post(
            "/api/user/",
            json!({ "username": "mallory", "password": PASSWORD }),
        )
        .await,
        put(
            &user,
            "/api/user/",
            json!({ "id": dave_id, "quota": 999_999 }),
        )
        .await,
        manage(&user, admin1_id, "disable").await,
        delete(&user, &format!("/api/user/{admin1_id}")).await,
        user.get("/api/group/").await,
    ];
    let before = users_snapshot(&pool).await;
    for answer in attempts {
        refused(&answer, INSUFFICIENT);
    }
    assert_eq!(users_snapshot(&pool).await, before);

    // The static /api/user/* routes are not shadowed by /api/user/{id}.
    let own = user.get("/api/user/self").await;
    assert!(own.success(), "{own:?}");
    assert_eq!(own.data()["username"], json!("dave"));
    let token = user.get("/api/user/token").await;
    assert!(token.success(), "{token:?}");
    let own = admin1.get("/api/user/self").await;
    assert_eq!(own.data()["username"], json!("admin1"));
    let bare = Console::new(&pylon.base_url).get("/api/user/").await;
    assert_eq!(bare.status, StatusCode::UNAUTHORIZED);
}

on_every_backend!(privileges_and_the_last_root);

async fn bad_input_changes_nothing(backend: Backend) {
    let pylon = Pylon::start(backend).await;
    let pool = database(&pylon).await;
    let root = root_console(&pylon).await;
    let admin_id = create_user(&root, "admin1", 10).await;
    let alice_id = create_user(&root, "alice", 1).await;
    let bob_id = create_user(&root, "bob", 1).await;
    let email = put(
        &root,
        "/api/user/",
        json!({ "id": bob_id, "email": "bob@example.com" }),
    )
    .await;
    assert!(email.success(), "{email:?}");
    let admin = logged_in(&pylon, "admin1").await;
    let before = users_snapshot(&pool).await;
    let logs_before = manage_logs(&pool, alice_id).await;

    // Unknown and malformed ids.
    refused(&admin.get("/api/user/999999").await, NOT_FOUND);
    let word = admin.get("/api/user/abc").await;
    assert_eq!(word.status, StatusCode::NOT_FOUND, "{word:?}");
    assert!(!word.success(), "{word:?}");
    refused(&admin.get("/api/user/0").await, "Invalid ID");
    refused(&manage(&admin, 999_999, "disable").await, NOT_FOUND);
    refused(
        &put(
            &admin,
            "/api/user/",
            json!({ "id": 999_999, "display_name": "x" }),
        )
        .await,
        NOT_FOUND,
    );
    refused(&delete(&admin, "/api/user/999999").await, NOT_FOUND);

    // Malformed JSON, wrong types, missing or unknown fields.
    for answer in [
        admin.post_raw("/api/user/manage", "{\"id\": ").await,
        admin.post_raw("/api/user/", "[").await,
        put_raw(&admin, "/api/user/", "{not json").await,
        admin
            .post(
                "/api/user/manage",
                json!({ "id": "two", "action": "disable" }),
            )
            .await,
        admin
            .post("/api/user/manage", json!({ "id": alice_id, "action": 1 }))
            .await,
        put(
            &admin,
            "/api/user/",
            json!({ "id": alice_id, "quota": "lots" }),
        )
        .await,
        put(
            &admin,
            "/api/user/",
            json!({ "id": alice_id, "display_name": 7 }),
        )
        .await,
        admin
            .post("/api/user/", json!({ "username": 5, "password": PASSWORD }))
            .await,
    ] {
        refused(&answer, "Invalid parameters");
    }
    refused(
        &admin
            .post("/api/user/manage", json!({ "action": "disable" }))
            .await,
        "id is required",
    );
    refused(
        &put(&admin, "/api/user/", json!({ "quota": 5 })).await,
        "id is required",
    );
    refused(&manage(&admin, alice_id, "explode").await, "unknown action");
    refused(&manage(&admin, alice_id, "").await, "unknown action");
    let bad_mode = json!({ "id": alice_id, "action": "add_quota", "mode": "double", "value": 5 });
    refused(
        &admin.post("/api/user/manage", bad_mode).await,
        "mode must be",
    );
    let zero = json!({ "id": alice_id, "action": "add_quota", "mode": "add", "value": 0 });
    refused(&admin.post("/api/user/manage", zero).await, "positive");

    // Field rules.
    let edits = [
        (
            json!({ "id": alice_id, "role": 10 }),
            "POST /api/user/manage",
        ),
        (
            json!({ "id": alice_id, "status": 2 }),
            "POST /api/user/manage",
        ),
        (json!({ "id": alice_id, "quota": -1 }), "negative"),
        (json!({ "id": alice_id, "quota": i64::MAX }), "exceeds"),
        (
            json!({ "id": alice_id, "email": "not-an-email" }),
            "Invalid email",
        ),
        (
            json!({ "id": alice_id, "email": "BOB@example.com" }),
            "already used",
        ),
        (
            json!({ "id": alice_id, "username": "bob" }),
            "already exists",
        ),
        (json!({ "id": alice_id, "username": "has space" }), "spaces"),
        (json!({ "id": alice_id, "password": "short" }), "at least 8"),
        (
            json!({ "id": alice_id, "display_name": "x".repeat(21) }),
            "20",
        ),
        (
            json!({ "id": alice_id, "group": "" }),
            "Group must not be empty",
        ),
        (json!({ "id": alice_id, "group": "ghost" }), "Unknown group"),
        (json!({ "id": alice_id, "remark": "r".repeat(256) }), "255"),
    ];
    for (body, expected) in edits {
        refused(&put(&admin, "/api/user/", body).await, expected);
    }
    let creations = [
        (json!({ "username": "", "password": PASSWORD }), "required"),
        (json!({ "username": "frank" }), "required"),
        (
            json!({ "username": "frank", "password": "short" }),
            "at least 8",
        ),
        (
            json!({ "username": "alice", "password": PASSWORD }),
            "already exists",
        ),
        (
            json!({ "username": "frank", "password": PASSWORD, "role": 100 }),
            "equal to or higher",
        ),
        (
            json!({ "username": "frank", "password": PASSWORD, "group": "ghost" }),
            "Unknown group",
        ),
    ];
    for (body, expected) in creations {
        refused(&admin.post("/api/user/", body).await, expected);
    }
    let odd_role = json!({ "username": "frank", "password": PASSWORD, "role": 5 });
    refused(&root.post("/api/user/", odd_role).await, "role must be");

    // The group options are checked before they are stored.
    for value in [json!("[\"vip\"]"), json!({ "vip": 1 }), json!("not json")] {
        refused(
            &put(
                &root,
                "/api/option/",
                json!({ "key": "UserUsableGroups", "value": value }),
            )
            .await,
            "UserUsableGroups",
        );
    }
    let stored: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM options WHERE `key` = 'UserUsableGroups'")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(stored, 0);

    assert_eq!(users_snapshot(&pool).await, before, "nothing changed");
    assert_eq!(manage_logs(&pool, alice_id).await, logs_before);
    assert_eq!(
        manage_logs(&pool, admin_id).await.len(),
        1,
        "only its creation"
    );
}

on_every_backend!(bad_input_changes_nothing);
