//! new-api's model deployments on io.net (`/api/deployments/*`) on SQLite and on MySQL + Redis,
//! with the control plane served in this process and `control_plane.ionet_api_url` pointing at
//! a mock io.net on a free port that checks the `X-API-KEY` header and records every request:
//! the settings never show the key; the connection test passes io.net's verdict on a key; while
//! the feature is off nothing reaches io.net; lists, search, hardware, locations, replicas,
//! prices and name checks pass io.net's answers on in new-api's shapes; creating, renaming,
//! extending, updating and deleting send io.net exactly the request new-api sends, and bad input
//! is refused before io.net is asked; io.net's errors, an io.net that answers garbage and one
//! that answers too late are clear errors; plain users are refused.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use pylon_tests::catalogue_fixtures::{ok, root};
use pylon_tests::in_process::InProcess;
use pylon_tests::mock_server;
use pylon_tests::user_admin_fixtures::{PASSWORD, create_user, delete, put, put_raw, refused};
use pylon_tests::{Backend, Console, on_every_backend};
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const KEY: &str = "io-key-1";
const ENTERPRISE: &str = "/enterprise/v1/io-cloud/caas";
const PUBLIC: &str = "/v1/io-cloud/caas";

#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Good,
    /// Answers 503 with an HTML page.
    Broken,
    /// Answers after the control plane stopped waiting.
    Late,
}

/// One request io.net received.
#[derive(Debug, Clone)]
struct Seen {
    method: String,
    /// The path with its API root (public or enterprise).
    path: String,
    query: Vec<(String, String)>,
    body: Value,
}

impl Seen {
    fn param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Clone)]
struct IoNet {
    mode: Arc<Mutex<Mode>>,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl IoNet {
    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    fn last(&self) -> Seen {
        self.seen().last().cloned().expect("io.net was asked")
    }

    fn count(&self) -> usize {
        self.seen.lock().unwrap().len()
    }
}

fn json_answer(value: Value) -> Response {
    ([("content-type", "application/json")], value.to_string()).into_response()
}

async fn serve(State(io): State<IoNet>, request: Request) -> Response {
    let method = request.method().to_string();
    let path = request.uri().path().to_string();
    let query: Vec<(String, String)> = request
        .uri()
        .query()
        .map(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .into_owned()
                .collect()
        })
        .unwrap_or_default();
    let key = request
        .headers()
        .get("x-api-key")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let bytes: Bytes = axum::body::to_bytes(request.into_body(), 1 << 20)
        .await
        .unwrap_or_default();
    let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    let name_taken = query
        .iter()
        .any(|(k, v)| k == "cluster_name" && v == "taken");
    io.seen.lock().unwrap().push(Seen {
        method: method.clone(),
        path: path.clone(),
        query,
        body,
    });
    let mode = *io.mode.lock().unwrap();
    match mode {
        Mode::Good => {}
        Mode::Broken => {
            return (StatusCode::SERVICE_UNAVAILABLE, "<html>maintenance</html>").into_response();
        }
        Mode::Late => {
            tokio::time::sleep(Duration::from_secs(30)).await;
        }
    }
    if key != KEY {
        return (
            StatusCode::UNAUTHORIZED,
            json_answer(json!({"detail": "Invalid API key"})),
        )
            .into_response();
    }
    let Some(rest) = path
        .strip_prefix(ENTERPRISE)
        .or_else(|| path.strip_prefix(PUBLIC))
    else {
        return (StatusCode::NOT_FOUND, "no such root").into_response();
    };
    let not_found = || {
        (
            StatusCode::NOT_FOUND,
            json_answer(json!({"detail": "Deployment not found"})),
        )
    };
    match (method.as_str(), rest) {
        ("GET", "/hardware/max-gpus-per-container") => json_answer(json!({"data": {
            "hardware": [
                {"max_gpus_per_container": 8, "available": 5, "hardware_id": 101,
                    "hardware_name": "H100 80GB", "brand_name": "NVIDIA"},
                {"max_gpus_per_container": 4, "available": 0, "hardware_id": 102,
                    "hardware_name": "", "brand_name": "AMD"},
            ],
            "total": 0,
        }})),
        ("GET", "/deployments") => json_answer(json!({"data": {
            "deployments": [
                {"id": "dep-1", "status": "Running", "name": "llama-prod", "completed_percent": 25.5,
                    "hardware_quantity": 2, "brand_name": "NVIDIA", "hardware_name": "H100",
                    "compute_minutes_served": 30, "compute_minutes_remaining": 90,
                    "created_at": "2025-01-02T03:04:05"},
                {"id": "dep-2", "status": "Completed", "name": "qwen-test", "completed_percent": 100.0,
                    "hardware_quantity": 1, "brand_name": "NVIDIA", "hardware_name": "A100",
                    "compute_minutes_served": 60, "compute_minutes_remaining": 0,
                    "created_at": "2025-01-01T00:00:00Z"},
            ],
            "total": 7,
            "statuses": ["running", "completed"],
        }})),
        ("GET", "/locations") => json_answer(json!({"data": {
            "locations": [
                {"id": 1, "name": "United States", "iso2": "us", "available": 3},
                {"id": 2, "name": "Germany", "iso2": "DE", "available": 4},
            ],
            "total": 0,
        }})),
        ("GET", "/available-replicas") => json_answer(json!({"data": [
            {"id": 1, "iso2": "US", "name": "United States", "available_replicas": 6},
        ]})),
        ("GET", "/price") => json_answer(json!({"data": {
            "replica_count": 1, "gpus_per_container": 2, "available_replica_count": [6],
            "discount": 0, "ionet_fee": 1.5, "ionet_fee_percent": 5,
            "currency_conversion_fee": 0.5, "currency_conversion_fee_percent": 1,
            "total_cost_usdc": 48.0,
        }})),
        ("GET", "/clusters/check_cluster_name_availability") => json_answer(json!(!name_taken)),
        ("POST", "/deploy") => json_answer(json!({"status": "deployment requested",
            "deployment_id": "dep-new"})),
        ("GET", "/deployment/dep-1") => json_answer(json!({"data": {
            "id": "dep-1", "status": "Running", "created_at": "2025-01-02T03:04:05Z",
            "amount_paid": 12.5, "completed_percent": 25.5, "total_gpus": 2,
            "gpus_per_container": 1, "total_containers": 2, "hardware_name": "H100",
            "hardware_id": 101, "brand_name": "NVIDIA",
            "locations": [{"id": 1, "iso2": "US", "name": "United States"}],
            "compute_minutes_served": 30, "compute_minutes_remaining": 90,
            "container_config": {"entrypoint": ["python"], "env_variables": {"A": "1"},
                "traffic_port": 8000, "image_url": "vllm/vllm-openai:latest"},
        }})),
        ("GET", "/deployment/dep-1/log/ctr-1") => "line one\nline two\n".into_response(),
        ("GET", "/deployment/dep-1/containers") => json_answer(json!({"data": {
            "total": 1,
            "workers": [container_json()],
        }})),
        ("GET", "/deployment/dep-1/container/ctr-1") => json_answer(container_json()),
        ("PUT", "/clusters/dep-1/update-name") => {
            json_answer(json!({"status": "ok", "message": "renamed"}))
        }
        ("PATCH", "/deployment/dep-1") => {
            json_answer(json!({"status": "updated", "deployment_id": "dep-1"}))
        }
        ("POST", "/deployment/dep-1/extend") => json_answer(json!({"data": {
            "id": "dep-1", "status": "Running", "created_at": "2025-01-02T03:04:05Z",
            "completed_percent": 10.0, "total_gpus": 2, "hardware_name": "H100",
            "brand_name": "NVIDIA", "compute_minutes_served": 30,
            "compute_minutes_remaining": 150,
        }})),
        ("DELETE", "/deployment/dep-1") => json_answer(json!({"status": "termination requested",
            "deployment_id": "dep-1"})),
        _ => not_found().into_response(),
    }
}

fn container_json() -> Value {
    json!({"device_id": "dev-1", "container_id": "ctr-1", "hardware": "H100",
        "brand_name": "NVIDIA", "created_at": "2025-01-02T03:04:05Z", "uptime_percent": 99,
        "gpus_per_container": 1, "status": " Running ",
        "container_events": [{"time": "2025-01-02T03:05:05Z", "message": "started"}],
        "public_url": "https://ctr-1.example"})
}

async fn set_option(root: &Console, key: &str, value: &str) {
    ok(put(root, "/api/option/", json!({"key": key, "value": value})).await);
}

async fn deployments_go_through_io_net(backend: Backend) {
    let io = IoNet {
        mode: Arc::new(Mutex::new(Mode::Good)),
        seen: Arc::new(Mutex::new(Vec::new())),
    };
    let bound = mock_server::bind("io.net").await;
    let base = bound.base_url.clone();
    let _mock = bound.serve(Router::new().fallback(serve).with_state(io.clone()));
    let plane = InProcess::start_with(
        backend,
        vec![
            ("PYLON__CONTROL_PLANE__IONET_API_URL".into(), base),
            (
                "PYLON__CONTROL_PLANE__IONET_TIMEOUT_SECS".into(),
                "1".into(),
            ),
        ],
    )
    .await;
    let root = root(&plane).await;

    // Off and without a key: the settings say so, and nothing reaches io.net.
    let settings = ok(root.get("/api/deployments/settings").await);
    assert_eq!(
        settings,
        json!({"provider": "io.net", "enabled": false, "configured": false, "can_connect": false})
    );
    for path in [
        "/api/deployments/",
        "/api/deployments/hardware-types",
        "/api/deployments/dep-1",
    ] {
        refused(
            &root.get(path).await,
            "io.net model deployment is not enabled or api key missing",
        );
    }
    refused(
        &root
            .post("/api/deployments/settings/test-connection", json!({}))
            .await,
        "api_key is required",
    );
    assert_eq!(io.count(), 0);

    // The connection test passes io.net's verdict on a key, without storing it.
    refused(
        &root
            .post(
                "/api/deployments/test-connection",
                json!({"api_key": "wrong"}),
            )
            .await,
        "Invalid API key",
    );
    refused(
        &root
            .post_raw("/api/deployments/test-connection", "{\"api_key\":")
            .await,
        "invalid request payload",
    );
    let tested = ok(root
        .post(
            "/api/deployments/settings/test-connection",
            json!({"api_key": KEY}),
        )
        .await);
    assert_eq!(tested, json!({"hardware_count": 2, "total_available": 5}));
    let asked = io.last();
    assert_eq!(
        asked.path,
        format!("{ENTERPRISE}/hardware/max-gpus-per-container")
    );
    assert!(
        !ok(root.get("/api/deployments/settings").await)["configured"]
            .as_bool()
            .unwrap()
    );

    // Switched on with a key: the key is never shown back.
    refused(
        &put(
            &root,
            "/api/option/",
            json!({"key": "model_deployment.ionet.enabled", "value": "yes"}),
        )
        .await,
        "must be true or false",
    );
    set_option(&root, "model_deployment.ionet.enabled", "true").await;
    set_option(&root, "model_deployment.ionet.api_key", KEY).await;
    let settings = root.get("/api/deployments/settings").await;
    assert_eq!(
        settings.data(),
        &json!({"provider": "io.net", "enabled": true, "configured": true, "can_connect": true})
    );
    assert!(!settings.body.to_string().contains(KEY));
    let options = root.get("/api/option/").await;
    assert!(options.success() && !options.body.to_string().contains(KEY));
    // The stored key is used when none is given.
    ok(root.post_raw("/api/deployments/test-connection", "").await);

    // The list, a page of io.net's, newest first, with the statuses counted.
    let list = ok(root
        .get("/api/deployments/?p=2&page_size=5&status=Running")
        .await);
    let asked = io.last();
    assert_eq!(asked.path, format!("{ENTERPRISE}/deployments"));
    assert_eq!(asked.param("page"), Some("2"));
    assert_eq!(asked.param("page_size"), Some("5"));
    assert_eq!(asked.param("status"), Some("running"));
    assert_eq!(asked.param("sort_by"), Some("created_at"));
    assert_eq!(asked.param("sort_order"), Some("desc"));
    assert_eq!(
        (list["page"].clone(), list["page_size"].clone()),
        (json!(2), json!(5))
    );
    assert_eq!(list["total"], 7);
    assert_eq!(list["status_counts"]["all"], 7);
    assert_eq!(list["status_counts"]["running"], 1);
    assert_eq!(list["status_counts"]["completed"], 1);
    assert_eq!(list["status_counts"]["destroyed"], 0);
    let first = &list["items"][0];
    assert_eq!(first["id"], "dep-1");
    assert_eq!(first["deployment_name"], "llama-prod");
    assert_eq!(first["status"], "running");
    assert_eq!(first["time_remaining"], "1 hour 30 minutes");
    assert_eq!(first["hardware_info"], "NVIDIA H100 x2");
    assert_eq!(first["created_at"], 1_735_787_045);
    assert_eq!(first["resource_config"]["gpu"], "2");
    assert_eq!(list["items"][1]["time_remaining"], "completed");
    // Search filters the page by name.
    let found = ok(root.get("/api/deployments/search?keyword=QWEN").await);
    assert_eq!(found["total"], 1);
    assert_eq!(found["items"][0]["id"], "dep-2");
    assert!(io.last().param("status").is_none());
    assert_eq!(ok(root.get("/api/deployments/search").await)["total"], 7);

    // What can be deployed.
    let hardware = ok(root.get("/api/deployments/hardware-types").await);
    assert_eq!(hardware["total"], 2);
    assert_eq!(hardware["total_available"], 5);
    assert_eq!(
        hardware["hardware_types"][0],
        json!({"id": 101, "name": "H100 80GB", "gpu_type": "", "gpu_memory": 0, "max_gpus": 8,
            "hourly_rate": 0, "available": true, "brand_name": "NVIDIA", "available_count": 5})
    );
    assert_eq!(hardware["hardware_types"][1]["name"], "hardware-102");
    assert_eq!(hardware["hardware_types"][1]["available"], false);
    let locations = ok(root.get("/api/deployments/locations").await);
    assert_eq!(io.last().path, format!("{PUBLIC}/locations"));
    assert_eq!(locations["total"], 7);
    assert_eq!(locations["locations"][0]["iso2"], "US");
    refused(
        &root.get("/api/deployments/available-replicas").await,
        "hardware_id parameter is required",
    );
    refused(
        &root
            .get("/api/deployments/available-replicas?hardware_id=abc")
            .await,
        "invalid hardware_id parameter",
    );
    let replicas = ok(root
        .get("/api/deployments/available-replicas?hardware_id=101&gpu_count=2")
        .await);
    assert_eq!(io.last().param("hardware_qty"), Some("2"));
    assert_eq!(
        replicas["replicas"],
        json!([{"location_id": 1, "location_name": "United States", "hardware_id": 101,
            "hardware_name": "", "available_count": 6, "max_gpus": 2}])
    );
    refused(
        &root.get("/api/deployments/check-name").await,
        "name parameter is required",
    );
    let name = ok(root.get("/api/deployments/check-name?name=fresh").await);
    assert_eq!(name, json!({"available": true, "name": "fresh"}));
    assert_eq!(io.last().param("cluster_name"), Some("fresh"));

    // Creating: priced first, bad input refused before io.net is asked.
    let deploy = json!({
        "resource_private_name": "llama-prod", "duration_hours": 24, "gpus_per_container": 2,
        "hardware_id": 101, "location_ids": [1, 2],
        "container_config": {"replica_count": 1, "env_variables": {"MODEL": "llama"},
            "traffic_port": 8000},
        "registry_config": {"image_url": "vllm/vllm-openai:latest"},
    });
    let price = ok(root
        .post(
            "/api/deployments/price-estimation",
            json!({"location_ids": [1, 2], "hardware_id": 101, "gpus_per_container": 2,
                "duration_hours": 24, "replica_count": 1}),
        )
        .await);
    let asked = io.last();
    assert_eq!(asked.path, format!("{ENTERPRISE}/price"));
    assert_eq!(asked.param("location_ids"), Some("[1,2]"));
    assert_eq!(asked.param("duration_type"), Some("hourly"));
    assert_eq!(asked.param("duration_qty"), Some("24"));
    assert_eq!(asked.param("hardware_qty"), Some("2"));
    assert_eq!(asked.param("currency"), Some("usdc"));
    assert_eq!(
        price,
        json!({"estimated_cost": 48.0, "currency": "USDC", "estimation_valid": true,
            "price_breakdown": {"compute_cost": 46.0, "total_cost": 48.0, "hourly_rate": 2.0}})
    );
    let before = io.count();
    refused(
        &root
            .post(
                "/api/deployments/price-estimation",
                json!({"hardware_id": 101}),
            )
            .await,
        "location_ids is required",
    );
    let mut no_image = deploy.clone();
    no_image["registry_config"]["image_url"] = json!("");
    refused(
        &root.post("/api/deployments/", no_image).await,
        "registry_config.image_url is required",
    );
    let mut wrong_type = deploy.clone();
    wrong_type["hardware_id"] = json!("H100");
    refused(
        &root.post("/api/deployments/", wrong_type).await,
        "Invalid parameters",
    );
    refused(
        &root
            .post_raw("/api/deployments/", "{\"resource_private_name\":")
            .await,
        "Invalid parameters",
    );
    assert_eq!(io.count(), before, "bad input never reaches io.net");
    let created = ok(root.post("/api/deployments/", deploy.clone()).await);
    assert_eq!(
        created,
        json!({"deployment_id": "dep-new", "status": "deployment requested",
            "message": "Deployment created successfully"})
    );
    let asked = io.last();
    assert_eq!(
        (asked.method.as_str(), asked.path.clone()),
        ("POST", format!("{ENTERPRISE}/deploy"))
    );
    assert_eq!(asked.body, deploy, "io.net gets the request as given");

    // One deployment, its logs and containers.
    let one = ok(root.get("/api/deployments/dep-1").await);
    assert_eq!(one["status"], "running");
    assert_eq!(one["hardware_id"], 101);
    assert_eq!(one["instance_count"], 2);
    assert_eq!(one["created_at"], 1_735_787_045);
    assert_eq!(one["locations"][0]["iso2"], "US");
    assert_eq!(one["container_config"]["traffic_port"], 8000);
    refused(
        &root.get("/api/deployments/dep-404").await,
        "failed to get deployment details: Deployment not found",
    );
    let before = io.count();
    refused(
        &root.get("/api/deployments/bad%20id").await,
        "invalid deployment ID",
    );
    assert_eq!(io.count(), before);
    refused(
        &root.get("/api/deployments/dep-1/logs").await,
        "container_id parameter is required",
    );
    let logs = ok(root
        .get("/api/deployments/dep-1/logs?container_id=ctr-1&limit=5000&level=info&start_time=2025-01-02T03:04:05Z")
        .await);
    assert_eq!(logs, json!("line one\nline two\n"));
    let asked = io.last();
    assert_eq!(asked.path, format!("{PUBLIC}/deployment/dep-1/log/ctr-1"));
    assert_eq!(asked.param("limit"), Some("1000"));
    assert_eq!(asked.param("level"), Some("info"));
    assert_eq!(asked.param("start_time"), Some("2025-01-02T03:04:05Z"));
    let containers = ok(root.get("/api/deployments/dep-1/containers").await);
    assert_eq!(containers["total"], 1);
    let expected = json!({"container_id": "ctr-1", "device_id": "dev-1", "status": "running",
        "hardware": "H100", "brand_name": "NVIDIA", "created_at": 1_735_787_045,
        "uptime_percent": 99, "gpus_per_container": 1, "public_url": "https://ctr-1.example",
        "events": [{"time": 1_735_787_105, "message": "started"}]});
    assert_eq!(containers["containers"][0], expected);
    let mut with_deployment = expected.clone();
    with_deployment["deployment_id"] = json!("dep-1");
    assert_eq!(
        ok(root.get("/api/deployments/dep-1/containers/ctr-1").await),
        with_deployment
    );

    // Renaming (once io.net says the name is free), updating, extending, deleting.
    refused(
        &put(&root, "/api/deployments/dep-1/name", json!({"name": " "})).await,
        "deployment name cannot be empty",
    );
    refused(
        &put(
            &root,
            "/api/deployments/dep-1/name",
            json!({"name": "taken"}),
        )
        .await,
        "deployment name is not available",
    );
    assert_eq!(io.last().method, "GET", "a taken name is never set");
    let renamed = ok(put(
        &root,
        "/api/deployments/dep-1/name",
        json!({"name": "llama-2"}),
    )
    .await);
    assert_eq!(
        renamed,
        json!({"status": "ok", "message": "renamed", "id": "dep-1", "name": "llama-2"})
    );
    let asked = io.last();
    assert_eq!(
        (
            asked.method.as_str(),
            asked.path.clone(),
            asked.body.clone()
        ),
        (
            "PUT",
            format!("{ENTERPRISE}/clusters/dep-1/update-name"),
            json!({"cluster_name": "llama-2"})
        )
    );
    let updated = ok(put(
        &root,
        "/api/deployments/dep-1",
        json!({"image_url": "vllm/vllm-openai:v2", "traffic_port": 9000}),
    )
    .await);
    assert_eq!(
        updated,
        json!({"status": "updated", "deployment_id": "dep-1"})
    );
    let asked = io.last();
    assert_eq!(asked.method, "PATCH");
    assert_eq!(
        asked.body,
        json!({"image_url": "vllm/vllm-openai:v2", "traffic_port": 9000})
    );
    refused(
        &put_raw(&root, "/api/deployments/dep-1", "{\"traffic_port\": \"x\"}").await,
        "Invalid parameters",
    );
    let before = io.count();
    refused(
        &root
            .post(
                "/api/deployments/dep-1/extend",
                json!({"duration_hours": 0}),
            )
            .await,
        "duration_hours must be at least 1",
    );
    refused(
        &root
            .post(
                "/api/deployments/dep-1/extend",
                json!({"duration_hours": "2"}),
            )
            .await,
        "Invalid parameters",
    );
    assert_eq!(io.count(), before);
    let extended = ok(root
        .post(
            "/api/deployments/dep-1/extend",
            json!({"duration_hours": 1}),
        )
        .await);
    assert_eq!(io.last().body, json!({"duration_hours": 1}));
    assert_eq!(extended["time_remaining"], "2 hour 30 minutes");
    assert_eq!(extended["deployment_name"], "dep-1");
    assert_eq!(extended["hardware_quantity"], 2);
    let deleted = ok(delete(&root, "/api/deployments/dep-1").await);
    assert_eq!(
        deleted,
        json!({"status": "termination requested", "deployment_id": "dep-1",
            "message": "Deployment termination requested successfully"})
    );
    assert_eq!(
        (io.last().method.as_str(), io.last().path),
        ("DELETE", format!("{ENTERPRISE}/deployment/dep-1"))
    );
    refused(
        &delete(&root, "/api/deployments/dep-404").await,
        "failed to delete deployment: Deployment not found",
    );
    assert!(io.seen().iter().all(|s| !s.path.is_empty()));

    // Administrators only.
    create_user(&root, "alice", 1).await;
    let mut alice = Console::new(&plane.base_url);
    alice.login("alice", PASSWORD).await;
    let before = io.count();
    for answer in [
        alice.get("/api/deployments/settings").await,
        alice.get("/api/deployments/").await,
        alice.post("/api/deployments/", deploy.clone()).await,
        delete(&alice, "/api/deployments/dep-1").await,
    ] {
        refused(&answer, "insufficient privileges");
    }
    assert_eq!(io.count(), before);

    // io.net down or too slow: a clear error.
    *io.mode.lock().unwrap() = Mode::Broken;
    refused(
        &root.get("/api/deployments/").await,
        "failed to list deployments: io.net request failed with status 503",
    );
    refused(
        &root
            .post("/api/deployments/test-connection", json!({}))
            .await,
        "io.net request failed with status 503",
    );
    *io.mode.lock().unwrap() = Mode::Late;
    refused(
        &root.get("/api/deployments/dep-1").await,
        "no answer from io.net within 1 s",
    );
}

on_every_backend!(deployments_go_through_io_net);
