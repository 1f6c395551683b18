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
