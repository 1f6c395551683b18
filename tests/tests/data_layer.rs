//! The data layer itself: the same schema on SQLite and MySQL, and changes reaching another
//! process within the bound (1 s with Redis, 2 s embedded).

use pylon_shared::cache;
use pylon_shared::changes::{ChangeFeed, Topic};
use pylon_shared::config::Config;
use pylon_shared::db::Db;
use pylon_tests::backend::{self, Backend};
use pylon_tests::on_every_backend;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

struct Store {
    config: Config,
    dir: std::path::PathBuf,
    db_name: Option<String>,
}

impl Store {
    async fn new(backend: Backend) -> Self {
        let name = backend::unique_name();
        let dir = std::env::temp_dir().join(&name);
        let mut env = vec![("PYLON__DATA__DIR".to_string(), dir.display().to_string())];
        let mut db_name = None;
        match backend {
            Backend::Sqlite => env.push((
                "PYLON__DATABASE__URL".into(),
                format!("sqlite://{}/pylon.db", dir.display()),
            )),
            Backend::MySqlRedis => {
                backend::require_redis().await;
                env.push((
                    "PYLON__DATABASE__URL".into(),
                    backend::create_mysql_database(&name).await,
                ));
                env.push(("PYLON__CACHE__REDIS_URL".into(), backend::redis_url()));
                env.push(("PYLON__CACHE__KEY_PREFIX".into(), format!("{name}:")));
                db_name = Some(name);
            }
        }
        let config = Config::load(None, env).expect("config");
        Self {
            config,
            dir,
            db_name,
        }
    }
}

impl Drop for Store {
    fn drop(&mut self) {
        if let Some(name) = &self.db_name {
            backend::drop_mysql_database(name);
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

async fn changes_reach_another_process(backend: Backend) {
    let store = Store::new(backend).await;
    // Two independent connections and caches stand for the two processes (or two nodes).
    let writer_db = Db::connect(&store.config).await.expect("connect");
    writer_db.migrate().await.expect("migrate");
    let reader_db = Db::connect(&store.config).await.expect("connect");
    let poll = Duration::from_millis(store.config.cache.change_poll_ms);
    let writer = ChangeFeed::start(
        writer_db.clone(),
        cache::connect(&store.config).await.expect("cache"),
        poll,
    )
    .await
    .expect("feed");
    let reader = ChangeFeed::start(
        reader_db.clone(),
        cache::connect(&store.config).await.expect("cache"),
        poll,
    )
    .await
    .expect("feed");
    let mut received = reader.subscribe();
    // Give the Redis subscriber a moment to attach (polling would deliver anyway).
    tokio::time::sleep(Duration::from_millis(200)).await;

    let bound = match backend {
        Backend::Sqlite => Duration::from_secs(2),
        Backend::MySqlRedis => Duration::from_secs(1),
    };
    for entity in [7, 8, 9] {
        let sent = Instant::now();
        writer.publish(Topic::Token, entity).await.expect("publish");
        let event = tokio::time::timeout(bound, received.recv())
            .await
            .unwrap_or_else(|_| panic!("change not received within {bound:?}"))
            .expect("event");
        assert_eq!((event.topic.as_str(), event.entity_id), ("token", entity));
        assert!(sent.elapsed() <= bound);
    }
    // Inserted ids are real on both databases (sqlx's Any driver needs help on SQLite).
    let first = writer_db.append_change("user", 1).await.expect("append");
    let second = writer_db.append_change("user", 2).await.expect("append");
    assert!(first.id > 0 && second.id > first.id, "{first:?} {second:?}");
    // Each event arrives once, though it came by both Redis and polling.
    tokio::time::sleep(poll * 3).await;
    let mut rest = Vec::new();
    while let Ok(event) = received.try_recv() {
        rest.push(event.entity_id);
    }
    assert_eq!(rest, vec![1, 2], "each event exactly once");
    writer_db.close().await;
    reader_db.close().await;
}
on_every_backend!(changes_reach_another_process);

/// Column names and coarse types of every table, as the database reports them.
async fn schema_of(db_url: &str, mysql: bool) -> BTreeMap<String, Vec<(String, String)>> {
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(db_url).await.expect("connect");
    let tables: Vec<String> = if mysql {
        sqlx::query_scalar("SELECT CAST(table_name AS CHAR) FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name <> '_sqlx_migrations'")
            .fetch_all(&pool)
            .await
            .expect("tables")
    } else {
        sqlx::query_scalar("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name <> '_sqlx_migrations'")
            .fetch_all(&pool)
            .await
            .expect("tables")
    };
    let mut schema = BTreeMap::new();
    for table in tables {
        let columns: Vec<(String, String)> = if mysql {
            sqlx::query_as("SELECT CAST(column_name AS CHAR), CAST(data_type AS CHAR) FROM information_schema.columns WHERE table_schema = DATABASE() AND table_name = ? ORDER BY ordinal_position")
                .bind(&table)
                .fetch_all(&pool)
                .await
                .expect("columns")
        } else {
            sqlx::query_as("SELECT name, type FROM pragma_table_info(?) ORDER BY cid")
                .bind(&table)
                .fetch_all(&pool)
                .await
                .expect("columns")
        };
        let columns = columns
            .into_iter()
            .map(|(name, kind)| (name, coarse_type(&kind)))
            .collect();
        schema.insert(table, columns);
    }
    pool.close().await;
    schema
}

fn coarse_type(kind: &str) -> String {
    let kind = kind.to_ascii_lowercase();
    if kind.contains("int") {
        "integer"
    } else if kind.contains("char") || kind.contains("text") {
        "text"
    } else if kind.contains("double") || kind.contains("real") || kind.contains("float") {
        "float"
    } else {
        "other"
    }
    .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_and_mysql_schemas_are_identical() {
    let sqlite = Store::new(Backend::Sqlite).await;
    let mysql = Store::new(Backend::MySqlRedis).await;
    for store in [&sqlite, &mysql] {
        let db = Db::connect(&store.config).await.expect("connect");
        db.migrate().await.expect("migrate");
        db.check_schema().await.expect("schema ready");
        db.close().await;
    }
    let sqlite_schema = schema_of(&sqlite.config.database.url, false).await;
    let mysql_schema = schema_of(&mysql.config.database.url, true).await;
    assert!(sqlite_schema.contains_key("users") && sqlite_schema.contains_key("logs"));
    assert_eq!(sqlite_schema, mysql_schema);
}

async fn secrets_are_generated_once_and_kept(backend: Backend) {
    let store = Store::new(backend).await;
    let db = Db::connect(&store.config).await.expect("connect");
    db.migrate().await.expect("migrate");
    let first = pylon_shared::secrets::resolve(&store.config, &db)
        .await
        .expect("secrets");
    let second = pylon_shared::secrets::resolve(&store.config, &db)
        .await
        .expect("secrets");
    assert_eq!(first.session, second.session);
    assert_eq!(first.key_encryption, second.key_encryption);
    assert_ne!(first.session, first.key_encryption);
    assert!(first.session.len() >= 32);
    if backend == Backend::Sqlite {
        let file = store.dir.join("secrets.toml");
        let mode = std::os::unix::fs::PermissionsExt::mode(
            &std::fs::metadata(&file)
                .expect("secrets file")
                .permissions(),
        );
        assert_eq!(mode & 0o077, 0, "secrets file must be private");
    }
    db.close().await;
}
on_every_backend!(secrets_are_generated_once_and_kept);

/// A settlement batch writes every log row and moves each balance by the sum of its charges;
/// sent again (as after an uncertain commit), it changes nothing.
async fn settlement_batches_apply_exactly_once(backend: Backend) {
    use pylon_shared::db::{LOG_TYPE_CONSUME, LOG_TYPE_ERROR, NewUser, RelayRecord, Written};
    let store = Store::new(backend).await;
    let db = Db::connect(&store.config).await.expect("connect");
    db.migrate().await.expect("migrate");
    let mut users = Vec::new();
    for name in ["alice", "bob"] {
        let user = NewUser {
            username: name,
            password_hash: "x",
            display_name: name,
            role: 1,
            quota: 1_000_000,
            group: "default",
            email: "",
            inviter_id: 0,
        };
        users.push(db.create_user(&user).await.expect("user").id);
    }
    // 250 records: more than one multi-row INSERT, spread over two users, plus errors.
    let records: Vec<RelayRecord> = (0..250)
        .map(|i| RelayRecord {
            request_id: format!("req_batch_{i}"),
            created_at: 1_700_000_000 + i,
            log_type: if i % 10 == 9 {
                LOG_TYPE_ERROR
            } else {
                LOG_TYPE_CONSUME
            },
            user_id: users[usize::try_from(i % 2).expect("index")],
            username: "someone".into(),
            channel_id: 0,
            model_name: "gpt-test".into(),
            quota: 100 + i,
            content: String::new(),
            other: "{}".into(),
            ..RelayRecord::default()
        })
        .collect();
    let charged = |user: i64| -> (i64, i64) {
        records
            .iter()
            .filter(|r| r.user_id == user && r.log_type == LOG_TYPE_CONSUME)
            .fold((0, 0), |(quota, count), r| (quota + r.quota, count + 1))
    };
    assert_eq!(db.apply_relay_records(&records).await.expect("apply"), 250);
    // The same batch again, plus one new record: only the new one applies.
    let mut again = records.clone();
    again.push(RelayRecord {
        request_id: "req_batch_new".into(),
        log_type: LOG_TYPE_CONSUME,
        user_id: users[0],
        quota: 7,
        other: "{}".into(),
        ..RelayRecord::default()
    });
    // Said to be a first write, the batch fails on the record already there and changes
    // nothing; the writer then retries it as possibly written.
    let refs: Vec<&RelayRecord> = again.iter().collect();
    db.apply_relay_batch(&refs, Written::Never)
        .await
        .expect_err("a first write of a logged request id fails");
    assert_eq!(
        db.apply_relay_batch(&refs, Written::Maybe)
            .await
            .expect("apply"),
        1
    );

    sqlx::any::install_default_drivers();
    let pool = &sqlx::AnyPool::connect(&store.config.database.url)
        .await
        .expect("pool");
    // Relay rows only: each user's starting quota was granted with a log row of its own.
    let logs: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM logs WHERE request_id LIKE 'req_%'")
        .fetch_one(pool)
        .await
        .expect("count");
    assert_eq!(logs, 251);
    for (index, user) in users.iter().enumerate() {
        let (quota, count) = charged(*user);
        let (quota, count) = if index == 0 {
            (quota + 7, count + 1)
        } else {
            (quota, count)
        };
        let row: (i64, i64, i64) =
            sqlx::query_as("SELECT quota, used_quota, request_count FROM users WHERE id = ?")
                .bind(user)
                .fetch_one(pool)
                .await
                .expect("user");
        assert_eq!(row, (1_000_000 - quota, quota, count), "user {user}");
    }
    pool.close().await;
    db.close().await;
}
on_every_backend!(settlement_batches_apply_exactly_once);
