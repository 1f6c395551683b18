//! Versioned migrations. The control plane runs them; the proxy only waits until the schema it
//! was built for is in place (it never writes schema).

use super::{Db, DbError, Dialect};
use sqlx::migrate::Migrator;

static SQLITE: Migrator = sqlx::migrate!("./migrations/sqlite");
static MYSQL: Migrator = sqlx::migrate!("./migrations/mysql");

/// The text of every MySQL migration (the schema [`super::limits`] reads column sizes from).
pub(crate) fn mysql_migrations() -> impl Iterator<Item = &'static str> {
    MYSQL.iter().map(|m| m.sql.as_str())
}

impl Db {
    fn migrator(&self) -> &'static Migrator {
        match self.dialect {
            Dialect::Sqlite => &SQLITE,
            Dialect::MySql => &MYSQL,
        }
    }

    /// Applies every pending migration.
    pub async fn migrate(&self) -> Result<(), DbError> {
        self.migrator().run(self.pool()).await?;
        Ok(())
    }

    /// The newest migration version this build knows.
    pub fn expected_schema_version(&self) -> i64 {
        self.migrator().iter().map(|m| m.version).max().unwrap_or(0)
    }

    /// Ok when every migration this build knows has been applied successfully.
    pub async fn check_schema(&self) -> Result<(), DbError> {
        let applied: Option<i64> =
            sqlx::query_scalar("SELECT MAX(version) FROM _sqlx_migrations WHERE success = TRUE")
                .fetch_one(self.pool())
                .await
                .map_err(|e| DbError::SchemaNotReady(e.to_string()))?;
        let expected = self.expected_schema_version();
        match applied {
            Some(version) if version >= expected => Ok(()),
            other => Err(DbError::SchemaNotReady(format!(
                "applied version {other:?}, this build needs {expected}"
            ))),
        }
    }
}
