//! new-api's model and vendor meta (`/api/models/*`, `/api/vendors/*`, also seed 001's
//! `/api/models`) on SQLite and on MySQL + Redis, through the control plane served in this
//! process: records are created, listed by page and searched, changed field by field (or only
//! their status), and deleted; each answer carries the model's channels, groups and the price
//! the price options give it (and a request's `pricing` writes there), and `/api/pricing`
//! shows what the records say; `missing` names the models channels serve without a record;
//! bad input is refused and changes nothing.

use pylon_tests::catalogue_fixtures::{ok, option, root};
use pylon_tests::client::Answer;
use pylon_tests::fixtures::{create_channel, set_option};
use pylon_tests::in_process::InProcess;
use pylon_tests::user_admin_fixtures::{PASSWORD, create_user, delete, put, put_raw, refused};
use pylon_tests::{Backend, Console, on_every_backend};
use reqwest::StatusCode;
use serde_json::{Value, json};

async fn vendors_and_models_are_managed(backend: Backend) {
    let plane = InProcess::start(backend).await;
    let root = root(&plane).await;

    // Vendors.
    let openai = ok(root
        .post(
            "/api/vendors/",
            json!({"name": "OpenAI", "description": "GPT models", "icon": "OpenAI"}),
        )
        .await);
    let vendor = openai["id"].as_i64().expect("id");
    assert_eq!(openai["status"], json!(1));
    assert_eq!(openai["model_count"], json!(0));
    ok(root
        .post("/api/vendors/", json!({"name": "Anthropic"}))
        .await);
    let page = ok(root.get("/api/vendors/?p=1&page_size=1").await);
    assert_eq!(page["total"], json!(2));
    assert_eq!(page["items"].as_array().map(Vec::len), Some(1));
    let found = ok(root.get("/api/vendors/search?keyword=gpt").await);
    assert_eq!(found["total"], json!(1));
    assert_eq!(found["items"][0]["name"], json!("OpenAI"));
    let renamed = ok(put(
        &root,
        "/api/vendors/",
        json!({"id": vendor, "description": "OpenAI's models"}),
    )
    .await);
    assert_eq!(renamed["name"], json!("OpenAI"), "absent fields are kept");
    assert_eq!(renamed["description"], json!("OpenAI's models"));

    // A channel serves two models; one is priced.
    set_option(&root, "ModelRatio", r#"{"gpt-4o-mini": 0.075}"#).await;
    set_option(&root, "CompletionRatio", r#"{"gpt-4o-mini": 4}"#).await;
    create_channel(
        &root,
        json!({"type": 1, "name": "openai-main", "key": "k", "base_url": "http://127.0.0.1:9",
            "models": "gpt-4o-mini,gpt-custom", "group": "default,vip", "priority": 0,
            "weight": 0}),
    )
    .await;
    assert_eq!(
        ok(root.get("/api/models/missing").await),
        json!(["gpt-4o-mini", "gpt-custom"])
    );

    // A record, with what the channels and the price options say of it.
    let mini = ok(root
        .post(
            "/api/models/",
            json!({"model_name": "gpt-4o-mini", "vendor_id": vendor, "description": "Small",
                "tags": "chat,cheap", "icon": "OpenAI"}),
        )
        .await);
    let mini_id = mini["id"].as_i64().expect("id");
    assert_eq!(mini["status"], json!(1));
    assert_eq!(mini["name_rule"], json!(0));
    assert_eq!(
        mini["bound_channels"],
        json!([{"name": "openai-main", "type": 1}])
    );
    assert_eq!(mini["enable_groups"], json!(["default", "vip"]));
    assert_eq!(mini["quota_types"], json!([0]));
    assert_eq!(mini["endpoints"], json!(r#"["openai"]"#));
    assert_eq!(mini["pricing"]["model_ratio"], json!(0.075));
    assert_eq!(mini["pricing"]["completion_ratio"], json!(4.0));
    assert_eq!(mini["pricing"]["priced"], json!(true));
    assert_eq!(
        ok(root.get("/api/models/missing").await),
        json!(["gpt-custom"])
    );

    // new-api's pricing page reads the records: description, icon, tags, vendor.
    let pricing = Console::new(&plane.base_url).get("/api/pricing").await.body;
    let listed = |model: &str| {
        pricing["data"]
            .as_array()
            .and_then(|all| all.iter().find(|m| m["model_name"] == json!(model)))
            .cloned()
            .unwrap_or_else(|| panic!("{model} not in {pricing}"))
    };
    let entry = listed("gpt-4o-mini");
    assert_eq!(
        (
            &entry["description"],
            &entry["tags"],
            &entry["icon"],
            &entry["vendor_id"]
        ),
        (
            &json!("Small"),
            &json!("chat,cheap"),
            &json!("OpenAI"),
            &json!(vendor)
        )
    );
    assert!(listed("gpt-custom").get("vendor_id").is_none());
    assert_eq!(
        pricing["vendors"],
        json!([{"id": vendor, "name": "OpenAI", "description": "OpenAI's models",
            "icon": "OpenAI"}])
    );

    // Prices have one source: a changed option shows at once.
    set_option(&root, "ModelRatio", r#"{"gpt-4o-mini": 0.1}"#).await;
    let read = ok(root.get(&format!("/api/models/{mini_id}")).await);
    assert_eq!(read["pricing"]["model_ratio"], json!(0.1));

    // Changed field by field, or only the status.
    let changed = ok(put(
        &root,
        "/api/models/",
        json!({"id": mini_id, "description": "Small and fast",
            "endpoints": {"openai": {"path": "/v1/chat/completions", "method": "POST"}}}),
    )
    .await);
    assert_eq!(changed["description"], json!("Small and fast"));
    assert_eq!(changed["tags"], json!("chat,cheap"));
    assert_eq!(
        serde_json::from_str::<Value>(changed["endpoints"].as_str().expect("text")).expect("JSON")
            ["openai"]["path"],
        json!("/v1/chat/completions")
    );
    let disabled = ok(put(
        &root,
        "/api/models/?status_only=true",
        json!({"id": mini_id, "status": 0, "description": "ignored"}),
    )
    .await);
    assert_eq!(disabled["status"], json!(0));
    assert_eq!(disabled["description"], json!("Small and fast"));
    let hidden = Console::new(&plane.base_url).get("/api/pricing").await.body;
    assert!(
        !hidden["data"]
            .as_array()
            .expect("data")
            .iter()
            .any(|m| m["model_name"] == json!("gpt-4o-mini")),
        "a disabled record hides its model from the pricing page: {hidden}"
    );
    let seed001 = ok(put(
        &root,
        &format!("/api/models/{mini_id}"),
        json!({"status": 1, "tags": "chat"}),
    )
    .await);
    assert_eq!(
        (seed001["status"].clone(), seed001["tags"].clone()),
        (json!(1), json!("chat"))
    );

    // A name rule covers the served names it matches.
    let rule = ok(root
        .post(
            "/api/models/",
            json!({"model_name": "gpt-", "name_rule": 1}),
        )
        .await);
    assert_eq!(rule["matched_models"], json!(["gpt-4o-mini", "gpt-custom"]));
    assert_eq!(rule["matched_count"], json!(2));
    assert!(rule["pricing"].is_null());

    // Lists, by page and searched.
    let page = ok(root.get("/api/models/?p=1&page_size=1").await);
    assert_eq!(page["total"], json!(2));
    assert_eq!(page["items"].as_array().map(Vec::len), Some(1));
    assert_eq!(
        page["items"][0]["model_name"],
        json!("gpt-"),
        "newest first"
    );
    assert_eq!(
        page["vendor_counts"],
        json!({"0": 1, vendor.to_string(): 1})
    );
    let by_vendor_id = format!("vendor={vendor}");
    for (query, expected) in [
        ("keyword=chat", 1),
        ("keyword=nothing", 0),
        ("vendor=open", 1),
        (by_vendor_id.as_str(), 1),
        ("status=1", 2),
    ] {
        let found = ok(root.get(&format!("/api/models/search?{query}")).await);
        assert_eq!(found["total"], json!(expected), "{query}: {found}");
    }
    assert_eq!(
        ok(root.get("/api/vendors/").await)["items"]
            .as_array()
            .expect("items")
            .iter()
            .find(|v| v["id"] == json!(vendor))
            .expect("OpenAI")["model_count"],
        json!(1)
    );

    // Bad input is refused and changes nothing.
    let before = root.get("/api/models/?page_size=100").await.body;
    let vendors_before = root.get("/api/vendors/?page_size=100").await.body;
    for (answer, expected) in [
        (
            root.post("/api/models/", json!({"model_name": " "})).await,
            "must not be empty",
        ),
        (
            root.post("/api/models/", json!({"model_name": "gpt-"}))
                .await,
            "already exists",
        ),
        (
            root.post("/api/models/", json!({"model_name": "m", "vendor_id": 999}))
                .await,
            "does not exist",
        ),
        (
            root.post("/api/models/", json!({"model_name": "m", "name_rule": 9}))
                .await,
            "name_rule",
        ),
        (
            root.post("/api/models/", json!({"model_name": "m", "status": 2}))
                .await,
            "status",
        ),
        (
            root.post(
                "/api/models/",
                json!({"model_name": "m", "endpoints": "{not json"}),
            )
            .await,
            "not JSON",
        ),
        (
            root.post("/api/models/", json!({"model_name": "m", "endpoints": 5}))
                .await,
            "endpoints",
        ),
        (
            root.post("/api/models/", json!({"model_name": "m", "description": 5}))
                .await,
            "Invalid parameters",
        ),
        (
            root.post("/api/models/", json!({"model_name": "m".repeat(129)}))
                .await,
            "too long",
        ),
        (
            root.post_raw("/api/models/", r#"{"model_name": "#).await,
            "Invalid parameters",
        ),
        (
            put(&root, "/api/models/", json!({"description": "x"})).await,
            "id is missing",
        ),
        (
            put(
                &root,
                "/api/models/",
                json!({"id": 999, "description": "x"}),
            )
            .await,
            "Model not found",
        ),
        (
            put(
                &root,
                "/api/models/",
                json!({"id": mini_id, "model_name": "gpt-"}),
            )
            .await,
            "already exists",
        ),
        (
            put(&root, &format!("/api/models/{mini_id}"), json!({"id": 5})).await,
            "not the id in the path",
        ),
        (
            put_raw(&root, "/api/models/", r#"{"id": "one"}"#).await,
            "Invalid parameters",
        ),
        (delete(&root, "/api/models/999").await, "Model not found"),
        (root.get("/api/models/999").await, "Model not found"),
        (
            root.post("/api/vendors/", json!({"name": "OpenAI"})).await,
            "already exists",
        ),
        (
            root.post("/api/vendors/", json!({"name": ""})).await,
            "must not be empty",
        ),
        (
            root.post("/api/vendors/", json!({"name": "v", "status": 3}))
                .await,
            "status",
        ),
        (
            put(&root, "/api/vendors/", json!({"id": 999, "name": "x"})).await,
            "Vendor not found",
        ),
        (delete(&root, "/api/vendors/999").await, "Vendor not found"),
    ] {
        refused(&answer, expected);
    }
    assert_eq!(
        root.get("/api/models/abc").await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(root.get("/api/models/?page_size=100").await.body, before);
    assert_eq!(
        root.get("/api/vendors/?page_size=100").await.body,
        vendors_before
    );

    // Concurrent creations of one name: exactly one wins, the others are told why.
    let racing: Vec<Answer> = futures::future::join_all((0..6).map(|i| {
        let path = if i % 2 == 0 {
            "/api/vendors/"
        } else {
            "/api/models/"
        };
        let body = json!({"name": "Racer", "model_name": "racer"});
        let root = &root;
        async move { root.post(path, body).await }
    }))
    .await;
    for path_parity in [0, 1] {
        let answers: Vec<&Answer> = racing.iter().skip(path_parity).step_by(2).collect();
        assert_eq!(
            answers.iter().filter(|a| a.success()).count(),
            1,
            "{answers:?}"
        );
        for answer in answers.iter().filter(|a| !a.success()) {
            refused(answer, "already exists");
        }
    }

    // A deleted vendor leaves its models without one; deleted records are gone.
    assert!(
        delete(&root, &format!("/api/vendors/{vendor}"))
            .await
            .success()
    );
    assert_eq!(
        ok(root.get(&format!("/api/models/{mini_id}")).await)["vendor_id"],
        json!(0)
    );
    assert!(
        delete(&root, &format!("/api/models/{mini_id}"))
            .await
            .success()
    );
    refused(
        &root.get(&format!("/api/models/{mini_id}")).await,
        "Model not found",
    );
    assert_eq!(
        ok(root.get("/api/models/missing").await),
        json!(["gpt-4o-mini", "gpt-custom"])
    );

    // Seed 001 prices a model with its record: into the price options, the one source.
    let priced = ok(root
        .post(
            "/api/models/",
            json!({"model_name": "gpt-priced", "pricing": {"model_ratio": 1.25,
                "completion_ratio": 8, "cache_ratio": null}}),
        )
        .await);
    let priced_id = priced["id"].as_i64().expect("id");
    assert_eq!(priced["pricing"]["model_ratio"], json!(1.25));
    assert_eq!(priced["pricing"]["completion_ratio"], json!(8.0));
    assert_eq!(priced["pricing"]["priced"], json!(true));
    let ratios = option(&root, "ModelRatio").await;
    assert_eq!(ratios["gpt-priced"], json!(1.25));
    // The answer sent back unchanged writes no price.
    let completion_before = option(&root, "CompletionRatio").await;
    let mut sent_back = priced.clone();
    sent_back["description"] = json!("priced by its record");
    assert!(put(&root, "/api/models/", sent_back).await.success());
    assert_eq!(option(&root, "ModelRatio").await, ratios);
    assert_eq!(option(&root, "CompletionRatio").await, completion_before);
    // Prices are root's: an administrator may send them back unchanged, not change them.
    create_user(&root, "admin1", 10).await;
    let mut admin = Console::new(&plane.base_url);
    admin.login("admin1", PASSWORD).await;
    assert!(put(&admin, "/api/models/", priced.clone()).await.success());
    refused(
        &put(
            &admin,
            &format!("/api/models/{priced_id}"),
            json!({"pricing": {"model_ratio": 3}}),
        )
        .await,
        "Only the root user",
    );
    for (pricing, expected) in [
        (json!({"model_ratio": -1}), "non-negative"),
        (json!({"model_ratio": "1"}), "non-negative"),
        (json!({"input_price": 1}), "unknown field"),
        (json!([1]), "Invalid parameters"),
    ] {
        refused(
            &put(
                &root,
                &format!("/api/models/{priced_id}"),
                json!({"pricing": pricing}),
            )
            .await,
            expected,
        );
    }
    refused(
        &root
            .post(
                "/api/models/",
                json!({"model_name": "claude-", "name_rule": 1, "pricing": {"model_ratio": 1}}),
            )
            .await,
        "name rule",
    );
    assert_eq!(option(&root, "ModelRatio").await, ratios);
    // null removes the operator's price: the model is unpriced again.
    let unpriced = ok(put(
        &root,
        &format!("/api/models/{priced_id}"),
        json!({"pricing": {"model_ratio": null}}),
    )
    .await);
    assert_eq!(unpriced["pricing"]["priced"], json!(false));
    assert!(
        option(&root, "ModelRatio")
            .await
            .get("gpt-priced")
            .is_none()
    );
}

on_every_backend!(vendors_and_models_are_managed);
