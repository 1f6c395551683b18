//! The ledger: every money movement is one transaction with a unique idempotency key. On both
//! backends: the same key twice (also concurrently) moves money once; a debit that would
//! overdraw is refused with nothing written; a movement inside a caller's transaction leaves
//! the caller's rows alone when refused; 20 concurrent check-ins and invitation transfers leave
//! exact balances with one log row and one ledger row each; an administrator's subtraction
//! beyond the balance changes nothing, and with Redis the committed change reaches the balance
//! mirror. With Redis stopped after the commit, the change is answered as a success, stands in
//! the database and is counted in the control plane's metrics.

use futures::future::join_all;
use pylon_shared::config::Config;
use pylon_shared::db::{Db, LOG_TYPE_SYSTEM, Movement, MovementKind, MovementOutcome, Refusal};
use pylon_tests::client::Answer;
use pylon_tests::fixtures::{console_with_role, database, root_console, set_option};
use pylon_tests::process::free_port;
use pylon_tests::{Backend, Pylon, on_every_backend};
use serde_json::json;
use sqlx::AnyPool;
use std::time::{Duration, Instant};

async fn int(pool: &AnyPool, sql: &'static str, id: i64) -> i64 {
    sqlx::query_scalar(sql)
        .bind(id)
        .fetch_one(pool)
        .await
        .expect(sql)
}

/// Everything a movement of `user_id` may write, as counts and balances: equal before and
/// after means nothing was written.
async fn books(pool: &AnyPool, user_id: i64) -> [i64; 6] {
    [
        int(pool, "SELECT quota FROM users WHERE id = ?", user_id).await,
        int(pool, "SELECT aff_quota FROM users WHERE id = ?", user_id).await,
        int(pool, "SELECT COUNT(*) FROM logs WHERE user_id = ?", user_id).await,
        int(
            pool,
            "SELECT COUNT(*) FROM ledger_movements WHERE user_id = ?",
            user_id,
        )
        .await,
        int(pool, "SELECT COUNT(*) FROM change_events WHERE id > ?", 0).await,
        int(
            pool,
            "SELECT CAST(COALESCE(SUM(remain_quota), 0) AS SIGNED) FROM tokens WHERE user_id = ?",
            user_id,
        )
        .await,
    ]
}

/// The pylon's database through the shared crate's `Db`, as another node would open it.
async fn shared_db(pylon: &Pylon) -> Db {
    let env = vec![("PYLON__DATABASE__URL".to_string(), pylon.database_url())];
    let config = Config::load(None, env).expect("config");
    Db::connect(&config).await.expect("connect")
}

fn credit(key: &str, user_id: i64, amount: i64) -> Movement {
    Movement::new(key, MovementKind::TopUp, user_id, amount).with_log(
        LOG_TYPE_SYSTEM,
        format!("test credit {amount}"),
        amount,
    )
}

async fn same_key_moves_money_once(backend: Backend) {
    let pylon = Pylon::start(backend).await;
    let _root = root_console(&pylon).await;
    let pool = database(&pylon).await;
    let alice = console_with_role(&pylon, &pool, "alice", 1).await;
    let id = alice.user_id.expect("id");
    let db = shared_db(&pylon).await;

    let before = books(&pool, id).await;
    let applied = db
        .apply_movement(&credit("topup:1", id, 700))
        .await
        .expect("apply");
    let MovementOutcome::Applied {
        user_quota_after,
        changes,
        ..
    } = applied
    else {
        panic!("not applied: {applied:?}");
    };
    assert_eq!(user_quota_after, before[0] + 700);
    assert_eq!(changes.len(), 1);
    assert_eq!(
        (changes[0].topic.as_str(), changes[0].entity_id),
        ("user", id)
    );
    let after = books(&pool, id).await;
    assert_eq!(after[0], before[0] + 700);
    assert_eq!(after[2], before[2] + 1, "one log row");
    assert_eq!(after[3], before[3] + 1, "one ledger row");
    assert_eq!(after[4], before[4] + 1, "one change event");
    let linked: i64 = int(
        &pool,
        "SELECT COUNT(*) FROM ledger_movements m JOIN logs l ON l.id = m.log_id \
         WHERE m.user_id = ? AND l.quota = 700 AND l.type = 4 AND l.username = 'alice'",
        id,
    )
    .await;
    assert_eq!(linked, 1, "the ledger row points at its log row");

    // The same key again, even with another amount: nothing.
    let again = db
        .apply_movement(&credit("topup:1", id, 9_999))
        .await
        .expect("apply");
    assert_eq!(again, MovementOutcome::Duplicate);
    assert_eq!(books(&pool, id).await, after);

    // Ten concurrent attempts with one fresh key: one applies.
    let outcomes = join_all((0..10).map(|_| {
        let db = db.clone();
        async move { db.apply_movement(&credit("topup:2", id, 50)).await }
    }))
    .await;
    let applied = outcomes
        .iter()
        .filter(|o| matches!(o, Ok(MovementOutcome::Applied { .. })))
        .count();
    let duplicates = outcomes
        .iter()
        .filter(|o| matches!(o, Ok(MovementOutcome::Duplicate)))
        .count();
    assert_eq!((applied, duplicates), (1, 9), "{outcomes:?}");
    let settled = books(&pool, id).await;
    assert_eq!(settled[0], after[0] + 50);
    assert_eq!(settled[2], after[2] + 1);
    assert_eq!(
        db.movement_keys(id, MovementKind::TopUp)
            .await
            .expect("keys"),
        vec!["topup:1".to_string(), "topup:2".to_string()]
    );
}
on_every_backend!(same_key_moves_money_once);

async fn refused_movements_write_nothing(backend: Backend) {
    let pylon = Pylon::start(backend).await;
    let _root = root_console(&pylon).await;
    let pool = database(&pylon).await;
    let alice = console_with_role(&pylon, &pool, "alice", 1).await;
    let id = alice.user_id.expect("id");
    let db = shared_db(&pylon).await;
    assert!(matches!(
        db.apply_movement(&credit("seed", id, 1_000).with_aff_delta(300))
            .await
            .expect("seed"),
        MovementOutcome::Applied { .. }
    ));
    let before = books(&pool, id).await;
    assert_eq!((before[0], before[1]), (1_000, 300));

    let refusals = [
        (credit("overdraw", id, -1_001), Refusal::InsufficientQuota),
        (
            credit("aff-overdraw", id, 500).with_aff_delta(-301),
            Refusal::InsufficientAffQuota,
        ),
        (credit("ghost", id + 1_000, 5), Refusal::NoSuchUser),
        (credit("", id, 5), Refusal::InvalidKey),
        (credit(&"k".repeat(192), id, 5), Refusal::InvalidKey),
        (
            credit("token-ghost", id, 0).with_token_delta(999_999, 5),
            Refusal::NoSuchToken,
        ),
    ];
    for (movement, refusal) in refusals {
        let outcome = db.apply_movement(&movement).await.expect("apply");
        assert_eq!(
            outcome,
            MovementOutcome::Refused(refusal),
            "{}",
            movement.idempotency_key
        );
        assert_eq!(
            books(&pool, id).await,
            before,
            "{}",
            movement.idempotency_key
        );
    }
    // A refused key is not used up: the same key, affordable, applies.
    let exact = db
        .apply_movement(&credit("overdraw", id, -1_000))
        .await
        .expect("apply");
    assert!(
        matches!(
            exact,
            MovementOutcome::Applied {
                user_quota_after: 0,
                ..
            }
        ),
        "{exact:?}"
    );
    // An administrator's correction may go below zero.
    let negative = db
        .apply_movement(&credit("correction", id, -10).allowing_negative())
        .await
        .expect("apply");
    assert!(matches!(
        negative,
        MovementOutcome::Applied {
            user_quota_after: -10,
            ..
        }
    ));
}
on_every_backend!(refused_movements_write_nothing);

async fn movements_join_the_callers_transaction(backend: Backend) {
    let pylon = Pylon::start(backend).await;
    let _root = root_console(&pylon).await;
    let pool = database(&pylon).await;
    let alice = console_with_role(&pylon, &pool, "alice", 1).await;
    let id = alice.user_id.expect("id");
    let db = shared_db(&pylon).await;
    let option_rows = |key: &'static str| {
        let pool = pool.clone();
        async move {
            sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM options WHERE `key` = ?")
                .bind(key)
                .fetch_one(&pool)
                .await
                .expect("options")
        }
    };

    // The caller's own row, then a refused movement: the caller's row stays, nothing of the
    // movement does, and the caller may still commit.
    let before = books(&pool, id).await;
    let mut tx = pool.begin().await.expect("begin");
    sqlx::query("INSERT INTO options (`key`, value) VALUES ('ledger_test_a', 'x')")
        .execute(&mut *tx)
        .await
        .expect("caller row");
    let refused = db
        .apply_movement_in(&mut tx, &credit("in-tx-refused", id, -5))
        .await
        .expect("apply");
    assert_eq!(
        refused,
        MovementOutcome::Refused(Refusal::InsufficientQuota)
    );
    tx.commit().await.expect("commit");
    assert_eq!(option_rows("ledger_test_a").await, 1);
    assert_eq!(books(&pool, id).await, before);

    // Applied inside a transaction the caller then rolls back: nothing at all.
    let mut tx = pool.begin().await.expect("begin");
    sqlx::query("INSERT INTO options (`key`, value) VALUES ('ledger_test_b', 'x')")
        .execute(&mut *tx)
        .await
        .expect("caller row");
    let applied = db
        .apply_movement_in(&mut tx, &credit("in-tx-rolled-back", id, 40))
        .await
        .expect("apply");
    assert!(matches!(applied, MovementOutcome::Applied { .. }));
    tx.rollback().await.expect("rollback");
    assert_eq!(option_rows("ledger_test_b").await, 0);
    assert_eq!(books(&pool, id).await, before);
    // ... so the key is free again.
    let mut tx = pool.begin().await.expect("begin");
    let applied = db
        .apply_movement_in(&mut tx, &credit("in-tx-rolled-back", id, 40))
        .await
        .expect("apply");
    assert!(matches!(applied, MovementOutcome::Applied { .. }));
    tx.commit().await.expect("commit");
    assert_eq!(
        int(&pool, "SELECT quota FROM users WHERE id = ?", id).await,
        before[0] + 40
    );
}
on_every_backend!(movements_join_the_callers_transaction);

async fn concurrent_checkins_and_transfers_are_exact(backend: Backend) {
    let pylon = Pylon::start(backend).await;
    let root = root_console(&pylon).await;
    let pool = database(&pylon).await;
    set_option(&root, "checkin_setting.enabled", "true").await;
    set_option(&root, "checkin_setting.min_quota", "1000").await;
    set_option(&root, "checkin_setting.max_quota", "1000").await;
    let alice = console_with_role(&pylon, &pool, "alice", 1).await;
    let id = alice.user_id.expect("id");
    sqlx::query("UPDATE users SET aff_quota = 10000000 WHERE id = ?")
        .bind(id)
        .execute(&pool)
        .await
        .expect("aff quota");
    let before = books(&pool, id).await;

    let transfers =
        (0..20).map(|_| alice.post("/api/user/aff_transfer", json!({"quota": 500_000})));
    let checkins = (0..20).map(|_| alice.post("/api/user/checkin", json!({})));
    let (transfers, checkins): (Vec<Answer>, Vec<Answer>) =
        futures::join!(join_all(transfers), join_all(checkins));
    assert!(transfers.iter().all(Answer::success), "{transfers:?}");
    assert_eq!(
        checkins.iter().filter(|a| a.success()).count(),
        1,
        "{checkins:?}"
    );

    let after = books(&pool, id).await;
    assert_eq!(after[0], before[0] + 20 * 500_000 + 1_000, "quota");
    assert_eq!(after[1], 0, "invitation quota");
    assert_eq!(after[2], before[2] + 21, "one log row each");
    assert_eq!(after[3], before[3] + 21, "one ledger row each");
    assert_eq!(
        int(
            &pool,
            "SELECT COUNT(*) FROM ledger_movements WHERE user_id = ? AND kind = 'aff_transfer' \
             AND user_delta = 500000 AND aff_delta = -500000 AND log_id IS NOT NULL",
            id
        )
        .await,
        20
    );
    assert_eq!(
        int(&pool, "SELECT COUNT(*) FROM checkins WHERE user_id = ?", id).await,
        1
    );
    // The invitation quota is spent: one more transfer is refused and writes nothing.
    let refused = alice
        .post("/api/user/aff_transfer", json!({"quota": 500_000}))
        .await;
    assert!(refused.message().contains("not enough"), "{refused:?}");
    assert_eq!(books(&pool, id).await[..4], after[..4]);
}
on_every_backend!(concurrent_checkins_and_transfers_are_exact);

/// The Redis key of a user's mirrored balance, with the deployment prefix.
fn stored_key(pylon: &Pylon, user_id: i64) -> String {
    let prefix = pylon
        .env()
        .iter()
        .find(|(k, _)| k == "PYLON__CACHE__KEY_PREFIX")
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    format!("{prefix}bal:u:{user_id}:stored")
}

async fn redis_client(url: &str) -> fred::clients::Client {
    use fred::prelude::*;
    let config = fred::types::config::Config::from_url(url).expect("Redis URL");
    let client = Builder::from_config(config).build().expect("client");
    client.init().await.expect("Redis");
    client
}

async fn admin_adjustments_are_movements(backend: Backend) {
    use fred::prelude::*;
    let pylon = Pylon::start(backend).await;
    let root = root_console(&pylon).await;
    let pool = database(&pylon).await;
    let alice = console_with_role(&pylon, &pool, "alice", 1).await;
    let id = alice.user_id.expect("id");
    let redis = match backend {
        Backend::MySqlRedis => {
            let client = redis_client(&pylon_tests::backend::redis_url()).await;
            // As a proxy would have started it: the mirror of the database balance.
            let _: () = client
                .set(stored_key(&pylon, id), 0, None, None, false)
                .await
                .expect("set");
            Some(client)
        }
        Backend::Sqlite => None,
    };
    let manage = |mode: &str, value: i64| {
        root.post(
            "/api/user/manage",
            json!({"id": id, "action": "add_quota", "mode": mode, "value": value}),
        )
    };

    let added = manage("add", 5_000).await;
    assert!(added.success(), "{added:?}");
    assert_eq!(added.data()["quota"], json!(5_000));
    let after_add = books(&pool, id).await;
    assert_eq!(
        int(
            &pool,
            "SELECT COUNT(*) FROM ledger_movements m JOIN logs l ON l.id = m.log_id \
             WHERE m.user_id = ? AND m.kind = 'admin_adjustment' AND m.user_delta = 5000 \
             AND l.type = 3 AND l.content LIKE 'Administrator root%'",
            id
        )
        .await,
        1
    );
    if let Some(redis) = &redis {
        let stored: i64 = redis.get(stored_key(&pylon, id)).await.expect("get");
        assert_eq!(stored, 5_000, "the control plane moved the Redis mirror");
    }

    // Beyond the balance: refused, nothing written, the mirror untouched.
    let refused = manage("subtract", 5_001).await;
    assert!(!refused.success());
    assert!(
        refused.message().contains("Insufficient quota"),
        "{refused:?}"
    );
    assert_eq!(books(&pool, id).await, after_add);
    if let Some(redis) = &redis {
        let stored: i64 = redis.get(stored_key(&pylon, id)).await.expect("get");
        assert_eq!(stored, 5_000);
    }

    // Override sets the balance through the difference.
    let set = manage("override", 1_234).await;
    assert!(set.success(), "{set:?}");
    assert_eq!(set.data()["quota"], json!(1_234));
    assert_eq!(
        int(
            &pool,
            "SELECT CAST(SUM(user_delta) AS SIGNED) FROM ledger_movements WHERE user_id = ?",
            id
        )
        .await,
        1_234
    );
    if let Some(redis) = &redis {
        let stored: i64 = redis.get(stored_key(&pylon, id)).await.expect("get");
        assert_eq!(stored, 1_234);
        let _ = redis.quit().await;
    }
}
on_every_backend!(admin_adjustments_are_movements);

/// A Redis server of this test's own, which the test can stop.
struct OwnRedis {
    child: std::process::Child,
    url: String,
}

impl OwnRedis {
    fn start() -> Self {
        let port = free_port();
        let child = std::process::Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("redis-server (install redis-server to run this test)");
        let url = format!("redis://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "own redis-server did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        Self { child, url }
    }

    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The control plane's count of failed post-commit cache steps.
async fn post_commit_failures(pylon: &Pylon) -> f64 {
    let text = reqwest::get(format!("{}/metrics", pylon.control_plane_url))
        .await
        .expect("metrics")
        .text()
        .await
        .expect("metrics text");
    text.lines()
        .filter(|l| l.starts_with("pylon_control_plane_ledger_post_commit_failures_total"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_down_after_commit_still_answers_success() {
    let mut redis = OwnRedis::start();
    let pylon = Pylon::builder(Backend::MySqlRedis)
        .env("PYLON__CACHE__REDIS_URL", redis.url.clone())
        .start()
        .await;
    let root = root_console(&pylon).await;
    let pool = database(&pylon).await;
    let alice = console_with_role(&pylon, &pool, "alice", 1).await;
    let id = alice.user_id.expect("id");
    assert_eq!(post_commit_failures(&pylon).await, 0.0);

    redis.stop();
    let started = Instant::now();
    let added = root
        .post(
            "/api/user/manage",
            json!({"id": id, "action": "add_quota", "mode": "add", "value": 777}),
        )
        .await;
    assert!(added.success(), "{added:?}");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(
        int(&pool, "SELECT quota FROM users WHERE id = ?", id).await,
        777
    );
    assert_eq!(
        int(
            &pool,
            "SELECT COUNT(*) FROM ledger_movements WHERE user_id = ? AND user_delta = 777",
            id
        )
        .await,
        1
    );
    assert!(post_commit_failures(&pylon).await >= 1.0);
}
