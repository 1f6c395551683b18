//! The pure parts of the `pylon-faults` scenario: matching the client's outcomes with the
//! charges (lost, double-charged, reconciliation), the timing figures drawn from outcomes,
//! what counts as a complete answer, and the table output. The scenario itself is a
//! benchmark (it starts Pylon and injects faults), not run here.

use pylon_benches::faults::ledger::{KeyBalance, LOG_TYPE_CONSUME, Row, reconcile};
use pylon_benches::faults::outages::first_reaching;
use pylon_benches::faults::outcome::{self, Outcome, Result};
use pylon_benches::faults::report::{Figure, Table};
use pylon_benches::faults::traffic::{judge, request_number, source_ip};
use std::time::Duration;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn request(n: u32, key: usize, started: u64, ended: u64, result: Result) -> Outcome {
    Outcome {
        ip: source_ip(n),
        key,
        stream: n.is_multiple_of(2),
        started: ms(started),
        ended: ms(ended),
        result,
    }
}

fn charge(n: u32, token_id: i64, quota: i64) -> Row {
    Row {
        ip: source_ip(n).to_string(),
        token_id,
        log_type: LOG_TYPE_CONSUME,
        quota,
        estimated: false,
        retries: 0,
    }
}

#[test]
fn every_request_has_its_own_address() {
    assert_eq!(source_ip(0).to_string(), "127.16.0.0");
    assert_eq!(source_ip(257).to_string(), "127.16.1.1");
    assert_eq!(request_number("127.16.1.1"), Some(257));
    assert_eq!(request_number("127.0.0.1"), None);
    assert_eq!(request_number("not an address"), None);
}

#[test]
fn charges_are_matched_with_what_the_client_saw() {
    let outcomes = [
        request(0, 0, 0, 100, Result::Ok),           // charged once
        request(1, 1, 10, 110, Result::Ok),          // never charged: lost
        request(2, 0, 20, 120, Result::Ok),          // charged twice
        request(3, 1, 30, 130, Result::Cut),         // cut, charged for what it got
        request(4, 0, 40, 140, Result::Status(503)), // refused, not charged
    ];
    let mut error_row = charge(4, 10, 0);
    error_row.log_type = 5;
    let mut estimated = charge(3, 11, 30);
    estimated.estimated = true;
    estimated.retries = 1;
    let rows = [
        charge(0, 10, 100),
        charge(2, 10, 100),
        charge(2, 10, 100),
        estimated,
        error_row,
        charge(99, 11, 7), // no request of the load has this address
    ];
    let keys = [
        KeyBalance {
            id: 10,
            start: 1000,
            now: 700,
        }, // 300 logged: reconciles
        KeyBalance {
            id: 11,
            start: 1000,
            now: 950,
        }, // 37 logged, 50 taken: a gap of 13
    ];
    let figures = reconcile(&outcomes, &rows, &keys);
    assert_eq!(figures.lost, 1);
    assert_eq!(figures.lost_ended, vec![ms(110)]);
    assert_eq!(figures.double_charged, 1);
    assert_eq!(figures.charged_failed, 1);
    assert_eq!(figures.unmatched_rows, 1);
    assert_eq!(figures.estimated, 1);
    assert_eq!(figures.failed_over, 1);
    assert_eq!(figures.charged_quota, 337);
    assert_eq!(figures.keys, 2);
    assert_eq!(figures.reconciled_keys, 1);
    assert_eq!(figures.balance_gap, 13);
    assert!(!figures.reconciled());

    let exact = [KeyBalance {
        id: 10,
        start: 500,
        now: 200,
    }];
    let figures = reconcile(&outcomes[..1], &rows[..3], &exact);
    assert!(figures.reconciled());
    assert_eq!(figures.balance_gap, 0);
}

#[test]
fn timings_come_from_the_outcomes() {
    let outcomes = [
        request(0, 0, 0, 300, Result::Ok),    // in flight at 200, completed
        request(1, 0, 100, 250, Result::Cut), // in flight at 200, failed
        request(2, 0, 150, 180, Result::Ok),  // ended before 200
        request(3, 0, 210, 400, Result::Status(503)), // first 503 after 200: at +200
        request(4, 0, 220, 900, Result::Ok),  // first completed after 200: at +700
        request(5, 0, 230, 950, Result::Ok),
    ];
    assert_eq!(outcome::in_flight_at(&outcomes, ms(200)), (1, 1));
    assert_eq!(outcome::first_ok_after(&outcomes, ms(200)), Some(ms(700)));
    assert_eq!(
        outcome::first_after(&outcomes, ms(200), Result::Status(503)),
        Some(ms(200))
    );
    assert_eq!(outcome::first_ok_after(&outcomes, ms(1000)), None);
    assert_eq!(outcome::failed(&outcomes), 2);
    assert_eq!(outcome::sent_between(&outcomes, ms(100), ms(210)).len(), 2);
    assert!((outcome::success_rate(&outcomes) - 4.0 / 6.0).abs() < 1e-9);
    assert_eq!(outcome::success_rate(&[]), 0.0);
    // Latencies of completed requests: 300, 30, 680, 720 ms.
    assert_eq!(outcome::ok_latency_quantile(&outcomes, 0.5), Some(ms(300)));
    assert_eq!(outcome::ok_latency_quantile(&outcomes, 0.99), Some(ms(720)));
    let kinds = outcome::by_result(&outcomes);
    assert_eq!(kinds.get("ok"), Some(&4));
    assert_eq!(kinds.get("503"), Some(&1));
    assert_eq!(kinds.get("cut"), Some(&1));
    assert_eq!(
        first_reaching(&[(ms(100), 3), (ms(200), 9), (ms(300), 10)], 9),
        Some(ms(200))
    );
    assert_eq!(first_reaching(&[(ms(100), 3)], 9), None);
}

#[test]
fn a_complete_answer_is_told_from_a_cut_one() {
    let stream = b"data: {\"choices\":[]}\n\ndata: [DONE]\n\n";
    assert_eq!(judge(true, stream), Result::Ok);
    assert_eq!(judge(true, b"data: {\"choices\":[]}\n\n"), Result::Cut);
    assert_eq!(judge(false, br#"{"choices":[{"message":{}}]}"#), Result::Ok);
    assert_eq!(
        judge(false, br#"{"choices": [{"message": garbage"#),
        Result::BadBody
    );
    assert_eq!(judge(false, br#"{"error":{}}"#), Result::BadBody);
}

#[test]
fn a_table_prints_as_markdown_and_as_one_json_line() {
    let mut table = Table::new("kill9", "kill -9 under load", "SQLite");
    table
        .add("requests", "requests sent", Figure::count(3600))
        .add(
            "down_for",
            "kill to the first answer",
            Figure::Time(Some(ms(1234))),
        )
        .add("first_503", "first 503", Figure::Time(None))
        .add("success", "completed", Figure::Share(0.9954))
        .add("rss", "peak RSS", Figure::MiB(62.84))
        .add("reconciled", "balances reconcile", Figure::Yes(true))
        .add(
            "kinds",
            "failures by kind",
            Figure::Text("connect: 6".into()),
        );
    assert_eq!(
        table.text(),
        "kill -9 under load (SQLite, kill9)\n\n| figure | value |\n|---|---|\n\
         | requests sent | 3600 |\n| kill to the first answer | 1.23 s |\n\
         | first 503 | never |\n| completed | 99.5 % |\n| peak RSS | 62.8 MiB |\n\
         | balances reconcile | yes |\n| failures by kind | connect: 6 |\n"
    );
    let json: serde_json::Value = serde_json::from_str(&table.json_line()).unwrap();
    assert_eq!(
        json,
        serde_json::json!({"case": "kill9", "backend": "SQLite", "figures": {
            "requests": 3600, "down_for": 1.234, "first_503": null, "success": 0.995,
            "rss": 62.84, "reconciled": true, "kinds": "connect: 6"}})
    );
    assert!(!table.json_line().contains('\n'));
}
