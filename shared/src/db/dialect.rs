//! The few places where SQLite and MySQL need different SQL.

/// Which SQL dialect a [`super::Db`] speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    MySql,
}

impl Dialect {
    /// The dialect a database URL names.
    pub fn of_url(url: &str) -> Self {
        if url.starts_with("mysql:") {
            Dialect::MySql
        } else {
            Dialect::Sqlite
        }
    }

    /// The name new-api reports as `database_type`.
    pub fn name(self) -> &'static str {
        match self {
            Dialect::Sqlite => "sqlite",
            Dialect::MySql => "mysql",
        }
    }

    /// Statements run on every new connection. SQLite runs in WAL mode so that the proxy and
    /// the control plane (two processes) read while the other writes, and waits on a busy lock
    /// instead of failing. Statement journals (which a multi-row `INSERT` into a table with a
    /// unique index needs) stay in memory: on disk, each settlement batch created, wrote,
    /// truncated and deleted a temporary file.
    pub(crate) fn session_setup(self) -> &'static [&'static str] {
        match self {
            Dialect::Sqlite => &[
                "PRAGMA journal_mode = WAL",
                "PRAGMA busy_timeout = 10000",
                "PRAGMA synchronous = NORMAL",
                "PRAGMA foreign_keys = ON",
                "PRAGMA temp_store = MEMORY",
            ],
            Dialect::MySql => &[
                "SET SESSION sql_mode = 'STRICT_TRANS_TABLES,NO_ENGINE_SUBSTITUTION'",
                "SET SESSION time_zone = '+00:00'",
                // An hour's dashboard bars are read joined into one text (`quota_bars`);
                // MySQL's default limit (1 KiB) would cut it after twenty models.
                "SET SESSION group_concat_max_len = 16777216",
            ],
        }
    }

    /// `INSERT` that silently skips a row whose unique key already exists.
    pub(crate) fn insert_ignore(self) -> &'static str {
        match self {
            Dialect::Sqlite => "INSERT OR IGNORE",
            Dialect::MySql => "INSERT IGNORE",
        }
    }

    /// The tail of an upsert on `conflict_key` that overwrites `column` with the new value.
    pub(crate) fn upsert_tail(self, conflict_key: &str, column: &str) -> String {
        match self {
            Dialect::Sqlite => {
                format!("ON CONFLICT({conflict_key}) DO UPDATE SET {column} = excluded.{column}")
            }
            Dialect::MySql => format!("ON DUPLICATE KEY UPDATE {column} = VALUES({column})"),
        }
    }

    /// The tail of an upsert on `conflict_key` that adds the new row's `columns` to the stored
    /// ones (counters).
    pub(crate) fn upsert_add_tail(self, conflict_key: &str, columns: &[&str]) -> String {
        let (head, new) = match self {
            Dialect::Sqlite => (
                format!("ON CONFLICT({conflict_key}) DO UPDATE SET"),
                "excluded.{}",
            ),
            Dialect::MySql => ("ON DUPLICATE KEY UPDATE".to_string(), "VALUES({})"),
        };
        let sets: Vec<String> = columns
            .iter()
            .map(|c| format!("{c} = {c} + {}", new.replace("{}", c)))
            .collect();
        format!("{head} {}", sets.join(", "))
    }
}
