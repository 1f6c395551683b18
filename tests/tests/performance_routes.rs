//! new-api's performance page (`/api/performance/*`) on SQLite and on MySQL + Redis, with the
//! control plane served in this process (so its figures are this test's process's, which the
//! test reads too): the stats carry new-api's shape with real figures, `gc` trims the heap and
//! counts it, `reset_stats` zeroes the count, the disk cache and log file routes answer as
//! new-api does with both off, bad cleanup parameters are refused, and only root may call them.

use pylon_tests::catalogue_fixtures::{ok, root};
use pylon_tests::in_process::InProcess;
use pylon_tests::user_admin_fixtures::{PASSWORD, create_user};
use pylon_tests::{Backend, Console, on_every_backend};
use reqwest::Method;
use serde_json::{Value, json};

/// `VmRSS` of this process, bytes.
fn resident() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    line.split_whitespace()
        .nth(1)
        .unwrap()
        .parse::<u64>()
        .unwrap()
        * 1024
}

async fn performance_page_shows_this_process(backend: Backend) {
    let plane = InProcess::start(backend).await;
    let root = root(&plane).await;

    let before = resident();
    let stats = ok(root.get("/api/performance/stats").await);
    let after = resident();
    for section in [
        "cache_stats",
        "memory_stats",
        "disk_cache_info",
        "disk_space_info",
        "config",
    ] {
        assert!(stats[section].is_object(), "{section} in {stats}");
    }
    let memory = &stats["memory_stats"];
    let sys = memory["sys"].as_u64().unwrap();
    // The resident set this process had while it answered.
    let (low, high) = (before.min(after), before.max(after));
    assert!(
        sys + (64 << 20) > low && sys < high + (64 << 20),
        "{sys} vs {before}..{after}"
    );
    assert!(memory["alloc"].as_u64().unwrap() > 0);
    assert!(memory["total_alloc"].as_u64().unwrap() >= memory["alloc"].as_u64().unwrap());
    assert!(memory["num_goroutine"].as_u64().unwrap() >= 1);
    let process = &stats["process"];
    assert_eq!(process["pid"], json!(std::process::id()));
    assert!(process["threads"].as_u64().unwrap() >= 2);
    assert!(process["open_files"].as_u64().unwrap() >= 3);
    assert_eq!(
        process["db_pool"]["max"],
        json!(plane.state.config.database.max_connections)
    );
    let disk = &stats["disk_space_info"];
    assert!(disk["total"].as_u64().unwrap() >= disk["used"].as_u64().unwrap());
    assert!(disk["total"].as_u64().unwrap() > 0);
    assert_eq!(stats["config"]["disk_cache_enabled"], json!(false));
    assert_eq!(stats["disk_cache_info"]["exists"], json!(false));

    // gc trims the heap and is counted; reset_stats zeroes the count.
    let trims = memory["num_gc"].as_u64().unwrap();
    let gc = root.post("/api/performance/gc", json!({})).await;
    assert!(gc.success(), "{gc:?}");
    assert!(gc.message().starts_with("GC executed"), "{gc:?}");
    assert!(gc.data()["freed_bytes"].is_u64(), "{gc:?}");
    let stats = ok(root.get("/api/performance/stats").await);
    assert!(stats["memory_stats"]["num_gc"].as_u64().unwrap() > trims);
    let reset = root.post("/api/performance/reset_stats", json!({})).await;
    assert!(reset.success(), "{reset:?}");
    // Other tests of this process may trim meanwhile; the count restarted from zero.
    let stats = ok(root.get("/api/performance/stats").await);
    assert!(stats["memory_stats"]["num_gc"].as_u64().unwrap() <= trims + 1);

    // No disk cache and no log files: answered as new-api does with both off.
    let cleared = root
        .send(Method::DELETE, "/api/performance/disk_cache", None)
        .await;
    assert!(cleared.success(), "{cleared:?}");
    let logs = ok(root.get("/api/performance/logs").await);
    assert_eq!(
        logs,
        json!({"log_dir": "", "enabled": false, "file_count": 0, "total_size": 0,
            "files": null})
    );
    for (query, message) in [
        ("", "invalid mode"),
        ("?mode=by_size&value=3", "invalid mode"),
        ("?mode=by_count&value=0", "invalid value"),
        ("?mode=by_days&value=x", "invalid value"),
        ("?mode=by_days&value=7", "log directory not configured"),
    ] {
        let answer = root
            .send(
                Method::DELETE,
                &format!("/api/performance/logs{query}"),
                None,
            )
            .await;
        assert!(!answer.success(), "{query}: {answer:?}");
        assert!(answer.message().starts_with(message), "{query}: {answer:?}");
    }

    // Root only.
    create_user(&root, "admin1", 10).await;
    let mut admin = Console::new(&plane.base_url);
    admin.login("admin1", PASSWORD).await;
    for (method, path) in [
        (Method::GET, "/api/performance/stats"),
        (Method::POST, "/api/performance/gc"),
        (Method::POST, "/api/performance/reset_stats"),
        (Method::DELETE, "/api/performance/disk_cache"),
        (Method::GET, "/api/performance/logs"),
    ] {
        let answer = admin.send(method, path, None).await;
        assert!(!answer.success(), "{path}: {answer:?}");
        assert_eq!(answer.data(), &Value::Null, "{path}");
    }
}

on_every_backend!(performance_page_shows_this_process);
