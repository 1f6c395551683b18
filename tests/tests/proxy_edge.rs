//! The proxy's own duties: /health, Prometheus metrics, and keeping the control plane alive.

use pylon_tests::{Backend, Console, Pylon, on_every_backend};
use std::time::{Duration, Instant};

async fn health_metrics_and_supervision(backend: Backend) {
    let pylon = Pylon::start(backend).await;
    let client = reqwest::Client::new();

    let health = client
        .get(format!("{}/health", pylon.base_url))
        .send()
        .await
        .expect("health");
    assert_eq!(health.status(), 200);
    assert_eq!(health.text().await.expect("body"), r#"{"status":"ok"}"#);
    let console = Console::new(&pylon.base_url);
    assert!(console.get("/api/status").await.success());

    let metrics = client
        .get(&pylon.metrics_url)
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    assert!(
        metrics.contains(r#"pylon_proxy_requests_total{route="control_plane",status="2xx"}"#),
        "{metrics}"
    );
    assert!(metrics.contains(r#"pylon_proxy_requests_total{route="health",status="2xx"}"#));

    // Kill the control plane: the proxy restarts it and /api works again.
    let old = pylon.control_plane_pid().expect("control plane child");
    pylon_tests::process::kill(old);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let back = console.get("/api/status").await;
        if back.success() && pylon.control_plane_pid().is_some_and(|pid| pid != old) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "control plane not restarted:\n{}",
            pylon.logs()
        );
    }

    // A path the control plane does not know gets an envelope 404.
    let missing = console.get("/api/no-such-route").await;
    assert_eq!(missing.status, 404);
    assert!(!missing.success());
}
on_every_backend!(health_metrics_and_supervision);

/// Reads from `stream` until the server closes it or `limit` passes; returns what arrived and
/// whether it closed.
async fn read_until_closed(stream: &mut tokio::net::TcpStream, limit: Duration) -> (String, bool) {
    use tokio::io::AsyncReadExt;
    let mut received = Vec::new();
    let deadline = Instant::now() + limit;
    let mut buf = [0u8; 4096];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return (String::from_utf8_lossy(&received).into(), true),
            Ok(Ok(n)) => received.extend_from_slice(&buf[..n]),
            Err(_) => return (String::from_utf8_lossy(&received).into(), false),
        }
    }
}

async fn slow_clients_are_cut_and_connections_capped(backend: Backend) {
    use tokio::io::AsyncWriteExt;
    let pylon = Pylon::builder(backend)
        .env("PYLON__SERVER__HEADER_TIMEOUT_SECS", "5")
        .env("PYLON__SERVER__MAX_CONNECTIONS_PER_IP", "4")
        .start()
        .await;
    let addr = pylon.base_url.trim_start_matches("http://").to_string();
    let health = format!("{}/health", pylon.base_url);

    // A client trickling its header a byte every 200 ms (each read well within Pingora's own
    // read timeout) is closed after the header deadline, without an answer.
    let mut slow = tokio::net::TcpStream::connect(&addr)
        .await
        .expect("connect");
    let opened = Instant::now();
    let trickle = async {
        let header = format!(
            "GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: {}",
            "a".repeat(100)
        );
        for byte in header.as_bytes() {
            if slow.write_all(&[*byte]).await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(6), trickle).await;
    let (answer, closed) = read_until_closed(&mut slow, Duration::from_secs(5)).await;
    assert!(closed, "the slow client was not closed");
    assert!(answer.is_empty(), "{answer}");
    assert!(opened.elapsed() < Duration::from_secs(10));

    // Four idle connections from this address are the cap: a fifth is refused at once with 503.
    let mut idle = Vec::new();
    for _ in 0..4 {
        idle.push(
            tokio::net::TcpStream::connect(&addr)
                .await
                .expect("connect"),
        );
    }
    // Once the proxy has accepted all four (they have 5 s before their header deadline closes
    // them; a loaded machine takes a while to accept and count them), a fifth is over the cap.
    let deadline = Instant::now() + Duration::from_secs(4);
    while pylon_tests::fixtures::metric(&pylon, "pylon_proxy_client_connections ").await < 4 {
        assert!(
            Instant::now() < deadline,
            "the proxy did not count the idle connections"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let deadline = Instant::now() + Duration::from_secs(2);
    let refused = loop {
        let mut fifth = tokio::net::TcpStream::connect(&addr)
            .await
            .expect("connect");
        let _ = fifth
            .write_all(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .await;
        let (answer, _) = read_until_closed(&mut fifth, Duration::from_millis(500)).await;
        if answer.starts_with("HTTP/1.1 503") {
            break answer;
        }
        assert!(
            Instant::now() < deadline,
            "no refusal over the cap: {answer}"
        );
    };
    assert!(refused.contains("Retry-After: 1"), "{refused}");
    assert!(refused.contains("Too many connections"), "{refused}");

    // Once those close (the header deadline closes them too), requests are served again.
    drop(idle);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let served = reqwest::get(&health).await.is_ok_and(|r| r.status() == 200);
        if served {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "not served after the idle connections closed"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let metrics = reqwest::get(&pylon.metrics_url)
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    assert!(
        metrics.contains(r#"pylon_proxy_relay_shed_total{reason="header_timeout"}"#),
        "{metrics}"
    );
    assert!(
        metrics.contains(r#"pylon_proxy_relay_shed_total{reason="connections_per_ip"}"#),
        "{metrics}"
    );
}
on_every_backend!(slow_clients_are_cut_and_connections_capped);
