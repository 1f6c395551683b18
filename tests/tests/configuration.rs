//! A wrong configuration stops the process at start with every problem listed at once.

use pylon_tests::process::binary;
use std::process::Command;

#[test]
fn every_problem_is_reported_at_start() {
    for name in ["pylon-proxy", "pylon-control-plane"] {
        let output = Command::new(binary(name))
            .env("PYLON__SERVER__THREADZ", "4")
            .env("PYLON__DATABASE__MAX_CONNECTIONS", "many")
            .env("PYLON__CACHE__REDIS_URL", "http://not-redis")
            .env("PYLON__AUTH__SESSION_SECRET", "too-short")
            .output()
            .expect("binary runs");
        assert_eq!(
            output.status.code(),
            Some(2),
            "{name} should refuse to start"
        );
        let stderr = String::from_utf8_lossy(&output.stderr);
        for expected in [
            "server.threadz",
            "PYLON__DATABASE__MAX_CONNECTIONS",
            "must be an integer",
        ] {
            assert!(
                stderr.contains(expected),
                "{name}: `{expected}` missing from:\n{stderr}"
            );
        }
    }
}

#[test]
fn semantic_problems_are_reported_together() {
    let output = Command::new(binary("pylon-control-plane"))
        .env("PYLON__CACHE__REDIS_URL", "http://not-redis")
        .env("PYLON__AUTH__SESSION_SECRET", "too-short")
        .env("PYLON__SERVER__LISTEN", "nowhere")
        .output()
        .expect("binary runs");
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    for expected in [
        "cache.redis_url",
        "auth.session_secret",
        "server.listen",
        "3 problem(s)",
    ] {
        assert!(
            stderr.contains(expected),
            "`{expected}` missing from:\n{stderr}"
        );
    }
}

#[test]
fn a_config_file_overrides_defaults_and_typos_in_it_are_caught() {
    let dir = std::env::temp_dir().join(pylon_tests::backend::unique_name());
    std::fs::create_dir_all(&dir).expect("dir");
    let file = dir.join("pylon.toml");
    std::fs::write(
        &file,
        "[server]\nlisten = 3000\n[relay]\nmax_body_byte = 5\n",
    )
    .expect("write");
    let output = Command::new(binary("pylon-proxy"))
        .arg("--config")
        .arg(&file)
        .output()
        .expect("binary runs");
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("`server.listen` must be a string"),
        "{stderr}"
    );
    assert!(
        stderr.contains("unknown setting `relay.max_body_byte`"),
        "{stderr}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
