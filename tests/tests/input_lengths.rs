//! Every writable console route refuses a value longer than its column with new-api's envelope
//! naming the field, and writes nothing, on SQLite (which would store it) and on MySQL (which
//! would fail the statement with a 500 before). The limits are the schema's
//! (`pylon_shared::db::limit_of`).

use pylon_tests::fixtures::*;
use pylon_tests::{Backend, Pylon, on_every_backend};
use reqwest::Method;
use serde_json::{Value, json};

/// A write that must be refused: route, body, the field the refusal names, and a query whose
/// value must not change.
struct Case {
    method: Method,
    path: String,
    body: Value,
    field: &'static str,
    fingerprint: &'static str,
}

async fn fingerprint(db: &sqlx::AnyPool, sql: &'static str) -> i64 {
    scalar(db, sql).await
}

async fn over_long_values_are_refused(backend: Backend) {
    let pylon = Pylon::start(backend).await;
    let console = root_console(&pylon).await;
    let db = database(&pylon).await;
    let channel_id = create_channel(
        &console,
        json!({"type": 1, "name": "c", "key": "k", "base_url": "http://127.0.0.1:9",
               "models": "gpt-test", "group": "default"}),
    )
    .await;
    let (token_id, _) = create_key(&console, "t", 1000, false).await;
    let made = console
        .post(
            "/api/redemption/",
            json!({"name": "r", "count": 1, "quota": 10, "expired_time": 0}),
        )
        .await;
    assert!(made.success(), "{made:?}");
    let redemption_id = scalar(&db, "SELECT MAX(id) FROM redemptions").await;
    let made = console
        .post(
            "/api/plans",
            json!({"code": "p", "name": "plan", "description": "", "quota": 10, "price": 1,
                   "currency": "USD", "enabled": true, "sort_order": 0}),
        )
        .await;
    assert!(made.success(), "{made:?}");
    let plan_id = scalar(&db, "SELECT MAX(id) FROM plans").await;

    let text_70k = "m".repeat(70_000);
    let text_300 = "n".repeat(300);
    let group_100 = "g".repeat(100);
    let tokens = "SELECT COUNT(*) * 1000000 + COALESCE(MAX(LENGTH(name) + LENGTH(model_limits) + LENGTH(`group`)), 0) FROM tokens";
    let channels = "SELECT COUNT(*) * 1000000 + COALESCE(MAX(LENGTH(name) + LENGTH(tag) + LENGTH(`group`) + LENGTH(model_mapping)), 0) FROM channels";
    let abilities = "SELECT COUNT(*) FROM abilities";
    let options = "SELECT COUNT(*) * 1000000 + COALESCE(MAX(LENGTH(value)), 0) FROM options";
    let users = "SELECT COUNT(*) * 1000000 + COALESCE(MAX(LENGTH(display_name) + LENGTH(remark)), 0) FROM users";
    let redemptions = "SELECT COUNT(*) * 1000000 + COALESCE(MAX(LENGTH(name)), 0) FROM redemptions";
    let plans = "SELECT COUNT(*) * 1000000 + COALESCE(MAX(LENGTH(name) + LENGTH(description)), 0) FROM plans";
    let cases = vec![
        Case {
            method: Method::POST,
            path: "/api/token/".into(),
            body: json!({"name": "x", "remain_quota": 1, "expired_time": -1,
                         "model_limits_enabled": true, "model_limits": text_70k}),
            field: "model_limits",
            fingerprint: tokens,
        },
        Case {
            method: Method::PUT,
            path: "/api/token/".into(),
            body: json!({"id": token_id, "name": "t", "remain_quota": 1000, "expired_time": -1,
                         "model_limits_enabled": true, "model_limits": text_70k}),
            field: "model_limits",
            fingerprint: tokens,
        },
        Case {
            method: Method::POST,
            path: "/api/channel/".into(),
            body: json!({"mode": "single", "channel": {"type": 1, "name": "c2", "key": "k",
                         "models": "gpt-test", "group": "default", "tag": text_300}}),
            field: "tag",
            fingerprint: channels,
        },
        Case {
            method: Method::POST,
            path: "/api/channel/".into(),
            body: json!({"mode": "single", "channel": {"type": 1, "name": "c3", "key": "k",
                         "models": "gpt-test", "group": group_100}}),
            field: "group",
            fingerprint: abilities,
        },
        Case {
            method: Method::PUT,
            path: "/api/channel/".into(),
            body: json!({"id": channel_id, "type": 1, "name": "c", "key": "k",
                         "models": "gpt-test", "group": "default", "model_mapping": format!("{{\"a\":\"{text_70k}\"}}")}),
            field: "model_mapping",
            fingerprint: channels,
        },
        Case {
            method: Method::PUT,
            path: "/api/option/".into(),
            body: json!({"key": "Notice", "value": text_70k}),
            field: "value",
            fingerprint: options,
        },
        Case {
            method: Method::PUT,
            path: "/api/user/".into(),
            body: json!({"id": 1, "username": "root", "display_name": "Root",
                         "group": "default", "remark": text_300}),
            field: "remark",
            fingerprint: users,
        },
        Case {
            method: Method::PUT,
            path: "/api/user/self".into(),
            body: json!({"display_name": text_300}),
            field: "display_name",
            fingerprint: users,
        },
        Case {
            method: Method::POST,
            path: "/api/redemption/".into(),
            body: json!({"name": text_300, "count": 1, "quota": 10, "expired_time": 0}),
            field: "name",
            fingerprint: redemptions,
        },
        Case {
            method: Method::PUT,
            path: "/api/redemption/".into(),
            body: json!({"id": redemption_id, "name": text_300, "quota": 10, "expired_time": 0}),
            field: "name",
            fingerprint: redemptions,
        },
        Case {
            method: Method::PUT,
            path: format!("/api/plans/{plan_id}"),
            body: json!({"code": "p", "name": "plan", "description": "d".repeat(2000),
                         "quota": 10, "price": 1, "currency": "USD", "enabled": true,
                         "sort_order": 0}),
            field: "description",
            fingerprint: plans,
        },
    ];
    for case in cases {
        let before = fingerprint(&db, case.fingerprint).await;
        let answer = console
            .send(case.method.clone(), &case.path, Some(case.body.to_string()))
            .await;
        let label = format!("{} {}", case.method, case.path);
        assert!(
            !answer.success(),
            "{label} accepted an over-long {}",
            case.field
        );
        assert_eq!(answer.status.as_u16(), 200, "{label}: {answer:?}");
        assert!(
            answer
                .message()
                .to_ascii_lowercase()
                .contains(&case.field.replace('_', " "))
                || answer.message().contains(case.field),
            "{label}: the refusal names {}: {answer:?}",
            case.field
        );
        assert_eq!(
            fingerprint(&db, case.fingerprint).await,
            before,
            "{label} changed a row"
        );
    }
    db.close().await;
}
on_every_backend!(over_long_values_are_refused);
