//! The task poller on several nodes, through the shared crate's `Db` as two control planes
//! would use it, on SQLite and on MySQL + Redis: concurrent claims never hand one task to two
//! nodes, a claim is held until its lease ends or the poll frees it, and two nodes failing the
//! same task at once refund it once.

use pylon_shared::config::Config;
use pylon_shared::db::{Db, NewTask, TASK_IN_PROGRESS, TASK_NOT_START, TaskFailed, TaskProgress};
use pylon_tests::fixtures::*;
use pylon_tests::{Backend, Pylon, on_every_backend};
use std::collections::HashSet;

async fn node_db(pylon: &Pylon) -> Db {
    let env = vec![("PYLON__DATABASE__URL".to_string(), pylon.database_url())];
    let config = Config::load(None, env).expect("config");
    Db::connect(&config).await.expect("connect")
}

fn task(n: usize, quota: i64) -> NewTask {
    NewTask {
        task_id: format!("task_lease{n:04}"),
        platform: "1".into(),
        user_id: 1,
        username: "root".into(),
        model: "sora-test".into(),
        upstream_task_id: format!("video_{n}"),
        quota,
        action: "textGenerate".into(),
        status: TASK_NOT_START.into(),
        progress: "0%".into(),
        data: "{}".into(),
        ..NewTask::default()
    }
}

async fn one_node_polls_a_task_at_a_time(backend: Backend) {
    // The control plane's own poller waits an hour between polls: only the two nodes here claim.
    let pylon = Pylon::builder(backend)
        .env("PYLON__CONTROL_PLANE__TASK_POLL_MS", "3600000")
        .start()
        .await;
    let _root = root_console(&pylon).await;
    let pool = database(&pylon).await;
    let (a, b) = (node_db(&pylon).await, node_db(&pylon).await);
    for n in 0..40 {
        a.insert_task(&task(n, 1_000)).await.expect("insert");
    }
    let (left, right) = tokio::join!(
        a.claim_unfinished_tasks(50, 120),
        b.claim_unfinished_tasks(50, 120)
    );
    let (left, right) = (left.expect("claim"), right.expect("claim"));
    let left_ids: HashSet<i64> = left.iter().map(|t| t.id).collect();
    let right_ids: HashSet<i64> = right.iter().map(|t| t.id).collect();
    assert!(left_ids.is_disjoint(&right_ids), "a task was claimed twice");
    assert_eq!(left_ids.len() + right_ids.len(), 40);
    // Claimed tasks are nobody else's until freed or moved on.
    assert!(
        a.claim_unfinished_tasks(50, 120)
            .await
            .expect("claim")
            .is_empty()
    );
    let first = left
        .first()
        .or(right.first())
        .expect("a claimed task")
        .clone();
    a.release_task(first.id).await.expect("release");
    let again = b.claim_unfinished_tasks(50, 120).await.expect("claim");
    assert_eq!(
        again.iter().map(|t| t.id).collect::<Vec<_>>(),
        vec![first.id]
    );
    // A poll's news are written only over the status it read.
    let news = TaskProgress {
        status: TASK_IN_PROGRESS.into(),
        progress: "30%".into(),
        start_time: 1,
        finish_time: 0,
        data: "{}".into(),
    };
    assert!(
        b.update_task_progress(first.id, TASK_NOT_START, &news)
            .await
            .expect("update")
    );
    assert!(
        !a.update_task_progress(first.id, TASK_NOT_START, &news)
            .await
            .expect("update")
    );

    // Two nodes fail one task at once: one refunds, the other finds it ended.
    let quota_before = scalar_of(&pool, "SELECT quota FROM users WHERE id = ?", 1).await;
    let (x, y) = tokio::join!(
        a.fail_task_and_refund(&first, "blocked", "{}"),
        b.fail_task_and_refund(&first, "blocked", "{}")
    );
    let outcomes = [x.expect("fail"), y.expect("fail")];
    let refunded = outcomes
        .iter()
        .filter(|o| {
            matches!(
                o,
                TaskFailed::Refunded {
                    movement: Some(_),
                    ..
                }
            )
        })
        .count();
    let ended = outcomes
        .iter()
        .filter(|o| matches!(o, TaskFailed::AlreadyFinished))
        .count();
    assert_eq!((refunded, ended), (1, 1), "{outcomes:?}");
    let quota_after = scalar_of(&pool, "SELECT quota FROM users WHERE id = ?", 1).await;
    assert_eq!(quota_after, quota_before + 1_000);
    assert_eq!(
        scalar(&pool, "SELECT COUNT(*) FROM logs WHERE type = 6").await,
        1,
        "one refund log row"
    );
    // A task a subscription paid gives the subscription its quota back, not the wallet.
    sqlx::query(
        "INSERT INTO user_subscriptions (user_id, plan_id, grant_key, amount_total, amount_used, \
         start_time, end_time) VALUES (1, 1, 'lease-test', 100000, 5000, 0, 4102444800)",
    )
    .execute(&pool)
    .await
    .expect("subscription");
    let subscription = scalar(&pool, "SELECT MAX(id) FROM user_subscriptions").await;
    let paid = NewTask {
        subscription_id: subscription,
        ..task(100, 3_000)
    };
    let paid_id = a.insert_task(&paid).await.expect("insert");
    let paid_row = a.task(&paid.task_id).await.expect("read").expect("row");
    assert_eq!(paid_row.id, paid_id);
    let wallet = scalar_of(&pool, "SELECT quota FROM users WHERE id = ?", 1).await;
    let outcome = b.fail_task_and_refund(&paid_row, "blocked", "{}").await;
    assert!(
        matches!(
            outcome,
            Ok(TaskFailed::Refunded {
                movement: Some(_),
                ..
            })
        ),
        "{outcome:?}"
    );
    let used = "SELECT amount_used FROM user_subscriptions WHERE id = ?";
    assert_eq!(scalar_of(&pool, used, subscription).await, 2_000);
    assert_eq!(
        scalar_of(&pool, "SELECT quota FROM users WHERE id = ?", 1).await,
        wallet
    );

    // A failed task is never claimed again.
    a.release_task(first.id).await.expect("release");
    let later = a.claim_unfinished_tasks(50, 0).await.expect("claim");
    assert!(later.iter().all(|t| t.id != first.id));
}

on_every_backend!(one_node_polls_a_task_at_a_time);
