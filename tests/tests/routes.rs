//! The route table over real HTTP: every route refuses callers below its access level before
//! its handler runs, unknown paths and methods answer in the envelope, ids and page numbers
//! that cannot be served are refused, and both spellings of a path (with and without new-api's
//! trailing slash) are served. The table itself is checked against its snapshot by the control
//! plane's unit test; this test reads the same snapshot.
//!
//! The access check runs the control plane in this process (its library, on a fresh database
//! of each backend, served on a free port): no proxy and no child process, as every handler
//! test could. The other checks go through the proxy, as a client does.

use pylon_tests::fixtures::root_console;
use pylon_tests::in_process::InProcess;
use pylon_tests::user_admin_fixtures::{PASSWORD, create_user, logged_in};
use pylon_tests::{Backend, Console, Pylon, on_every_backend};
use reqwest::{Method, StatusCode};

/// The route table, `METHOD path access` one a line (kept equal to the table by
/// `routes::table::tests::the_route_table_is_the_snapshot`).
const TABLE: &str = include_str!("../../control-plane/src/routes/table.snapshot");
const INSUFFICIENT: &str = "Unauthorized, insufficient privileges";

fn rank(access: &str) -> u8 {
    match access {
        "public" => 0,
        "user" => 1,
        "admin" => 2,
        "root" => 3,
        other => panic!("unknown access {other:?} in the snapshot"),
    }
}

/// Every routed entry: method, path with `{id}` set to an existing-looking id, access rank.
fn entries() -> Vec<(Method, String, u8)> {
    TABLE
        .lines()
        .filter(|line| !line.is_empty())
        .map(|line| {
            let fields: Vec<&str> = line.split(' ').collect();
            assert_eq!(fields.len(), 3, "malformed snapshot line {line:?}");
            let method = Method::from_bytes(fields[0].as_bytes()).expect("method");
            (method, fields[1].replace("{id}", "1"), rank(fields[2]))
        })
        .collect()
}

async fn guarded_routes_refuse_lower_callers(backend: Backend) {
    let plane = InProcess::start(backend).await;
    let mut root = Console::new(&plane.base_url);
    root.setup_root("root", PASSWORD).await;
    root.login("root", PASSWORD).await;
    create_user(&root, "common1", 1).await;
    create_user(&root, "admin1", 10).await;
    let mut common = Console::new(&plane.base_url);
    common.login("common1", PASSWORD).await;
    let mut admin = Console::new(&plane.base_url);
    admin.login("admin1", PASSWORD).await;
    let anonymous = Console::new(&plane.base_url);
    let body = Some("{}".to_string());

    let mut checked = 0;
    for (method, path, rank) in entries() {
        if rank == 0 {
            continue;
        }
        let answer = anonymous.send(method.clone(), &path, body.clone()).await;
        assert_eq!(
            answer.status,
            StatusCode::UNAUTHORIZED,
            "{method} {path} without credentials: {answer:?}"
        );
        assert!(!answer.success(), "{method} {path}: {answer:?}");
        for (caller, caller_rank) in [(&common, 1), (&admin, 2)] {
            if caller_rank >= rank {
                continue;
            }
            let answer = caller.send(method.clone(), &path, body.clone()).await;
            assert_eq!(answer.status, StatusCode::OK, "{method} {path}: {answer:?}");
            assert!(
                !answer.success() && answer.message() == INSUFFICIENT,
                "{method} {path} as role {caller_rank}: {answer:?}"
            );
        }
        checked += 1;
    }
    assert!(checked > 80, "only {checked} guarded routes in the table");

    // The callers above are real: each reads what its role allows.
    assert!(common.get("/api/user/self").await.success());
    assert!(admin.get("/api/user/").await.success());
    assert!(root.get("/api/option/").await.success());
}
on_every_backend!(guarded_routes_refuse_lower_callers);

async fn unknown_paths_methods_and_ids(backend: Backend) {
    let pylon = Pylon::start(backend).await;
    let root = root_console(&pylon).await;
    create_user(&root, "common1", 1).await;
    let common = logged_in(&pylon, "common1").await;
    let anonymous = Console::new(&pylon.base_url);

    // An unknown word where an id would be is an unknown route, for every caller and method;
    // it is never taken for the admin route `/api/user/{id}`.
    for console in [&anonymous, &common, &root] {
        for (method, path) in [
            (Method::GET, "/api/user/nonsense"),
            (Method::POST, "/api/user/nonsense"),
            (Method::DELETE, "/api/user/nonsense"),
            (Method::GET, "/api/user/-3"),
            (Method::GET, "/api/token/abc"),
            (Method::DELETE, "/api/user/abc/2fa"),
            (Method::PUT, "/api/user/abc/2fa"),
            (Method::GET, "/api/channel/abc"),
            (Method::GET, "/api/no-such-route"),
        ] {
            let answer = console.send(method.clone(), path, None).await;
            assert_eq!(
                answer.status,
                StatusCode::NOT_FOUND,
                "{method} {path}: {answer:?}"
            );
            assert!(!answer.success(), "{method} {path}: {answer:?}");
            assert_eq!(answer.message(), format!("Not found: {path}"));
        }
    }

    // A known path with a method it does not serve.
    for (method, path) in [
        (Method::PATCH, "/api/user/self"),
        (Method::POST, "/api/status"),
        (Method::PUT, "/api/user/5/2fa"),
        (Method::POST, "/api/token/5/"),
    ] {
        let answer = common.send(method.clone(), path, Some("{}".into())).await;
        assert_eq!(
            answer.status,
            StatusCode::METHOD_NOT_ALLOWED,
            "{method} {path}: {answer:?}"
        );
        assert!(!answer.success());
        assert_eq!(answer.message(), "Method not allowed");
    }

    // Digits that are no id: zero, or beyond 64 bits.
    for path in [
        "/api/user/0",
        "/api/user/99999999999999999999",
        "/api/token/0",
        "/api/channel/9223372036854775808",
    ] {
        let answer = root.get(path).await;
        assert_eq!(answer.status, StatusCode::OK, "{path}: {answer:?}");
        assert!(!answer.success(), "{path}: {answer:?}");
        assert_eq!(answer.message(), "Invalid ID", "{path}");
    }
    assert_eq!(
        root.get("/api/user/999999").await.message(),
        "User does not exist"
    );

    // Both spellings of a path are served, the query string kept.
    for path in [
        "/api/token/?p=1",
        "/api/token?p=1",
        "/api/user/self/",
        "/api/user/self",
    ] {
        let answer = common.get(path).await;
        assert!(answer.success(), "{path}: {answer:?}");
    }

    // Page numbers: lenient like new-api, but never an overflowing offset.
    let first = common.get("/api/token/?p=abc&page_size=5").await;
    assert!(first.success(), "{first:?}");
    assert_eq!(first.data()["page"], 1);
    assert_eq!(first.data()["page_size"], 5);
    let last = common
        .get("/api/log/self?p=922337203685477581&page_size=10")
        .await;
    assert!(last.success(), "{last:?}");
    assert_eq!(last.data()["items"], serde_json::json!([]));
    for path in [
        "/api/log/self?p=922337203685477582&page_size=10",
        "/api/token/?p=99999999999999999999",
        "/api/user/check-in/records?p=9223372036854775807",
        "/api/user/?p=9223372036854775807",
        "/api/channel/?p=9223372036854775807",
    ] {
        let console = if path.starts_with("/api/user/?") || path.starts_with("/api/channel") {
            &root
        } else {
            &common
        };
        let answer = console.get(path).await;
        assert_eq!(answer.status, StatusCode::OK, "{path}: {answer:?}");
        assert!(!answer.success(), "{path}: {answer:?}");
        assert_eq!(
            answer.message(),
            "Invalid parameters: page number p is too large",
            "{path}"
        );
    }
}
on_every_backend!(unknown_paths_methods_and_ids);
