//! The database: one API over SQLite (embedded default) and MySQL/MariaDB, through sqlx's `Any`
//! driver so that every statement is written once. Only this module writes SQL. Both dialects
//! accept `?` placeholders and backtick-quoted names; the few statements that differ ask
//! [`Dialect`]. Integer columns are BIGINT everywhere so that every value decodes as `i64`.

mod abilities;
mod announcements;
mod audit;
mod changes;
mod channel_keys;
mod channel_models;
mod channel_status;
mod channels;
mod checkins;
mod commissions;
mod custom_oauth;
mod dead_letters;
mod dialect;
mod exports;
mod invitation_codes;
mod invites;
mod key_lookup;
mod ledger;
mod lenient;
mod limits;
mod log_retention;
mod logs;
mod midjourneys;
mod migrate;
mod model_metadata;
mod models;
mod options;
mod passkeys;
mod payments;
mod planner_stats;
mod plans;
mod prefill_groups;
mod quota_bars;
mod rankings;
mod redemptions;
mod registration;
mod secrets;
mod self_service;
mod sessions;
mod settlement;
mod setup;
mod sign_in_ids;
mod status_monitors;
mod subscriptions;
mod task_leases;
mod tasks;
mod tokens;
mod top_ups;
mod two_factor;
mod usage_stats;
mod usage_summary;
mod user_admin;
mod user_channels;
mod users;
mod vendors;

pub use abilities::split_list;
pub use announcements::{AnnouncementFields, AnnouncementRow};
pub use audit::AuditEntry;
pub use changes::ChangeEvent;
pub use channel_keys::{ALL_KEYS_DISABLED, KeyDisabled, KeyStateRow, KeySwitch};
pub use channel_models::ChannelModelRow;
pub use channels::{
    CHANNEL_AUTO_DISABLED, CHANNEL_ENABLED, CHANNEL_MANUALLY_DISABLED, ChannelFields,
    ChannelFilter, ChannelOrder, ChannelRow, ChannelSearch, ChannelSort, StatusFilter,
};
pub use checkins::{CheckinRow, CheckinTotals};
pub use commissions::CommissionRow;
pub use custom_oauth::{
    BindOutcome, BindingOwner, CustomOAuthProviderFields, CustomOAuthProviderRow, ExternalProfile,
    ExternalSignup, ProviderDelete, ProviderWrite, UserBindingRow,
};
pub use dead_letters::DeadLetter;
pub use dialect::Dialect;
pub use exports::{Export, csv_line};
pub use invitation_codes::{
    INVITATION_CODE_MAX_CHARS, INVITATION_DISABLED, INVITATION_ENABLED, INVITATION_USED,
    InvitationCodeRow, InvitationRefusal, InvitationSearch, InvitationStatusOutcome,
    hash_invitation_code, normalize_invitation_code,
};
pub use invites::AffCodeOutcome;
pub use key_lookup::KeyWithOwner;
pub use ledger::{
    MAX_IDEMPOTENCY_KEY_LEN, Movement, MovementKind, MovementLog, MovementOutcome, Refusal, Signup,
    quota_text,
};
pub use lenient::{export_skipped_rows, report_bad_row, skipped_rows, skipped_rows_counter};
pub use limits::{Limit, check_lengths, limit_of};
pub use logs::{
    LOG_COUNT_CAP, LOG_SEARCH_WINDOW, LOG_TYPE_MANAGE, LOG_TYPE_SYSTEM, LOG_TYPE_TOPUP, LogFilter,
    LogPage, LogPaging, LogRow, LogStat,
};
pub use midjourneys::{MidjourneyFilter, MidjourneyRow, MidjourneyUpdate};
pub use model_metadata::{
    MetadataField, MetadataModel, MetadataOutcome, MetadataOverwrite, MetadataVendor, choose_status,
};
pub use models::{
    ModelFields, ModelRow, ModelSearch, NAME_RULE_CONTAINS, NAME_RULE_EXACT, NAME_RULE_PREFIX,
    NAME_RULE_SUFFIX,
};
pub use options::{OptionRemoval, OptionSwap};
pub use passkeys::{NewPasskey, PasskeyRow};
pub use payments::{
    ADMIN_COMPLETION, CompleteOutcome, CompletionRules, PaymentProof, RedeemOutcome,
};
pub use plans::{PlanFields, PlanRow};
pub use prefill_groups::{PrefillGroupFields, PrefillGroupRow, PrefillWrite};
pub use rankings::RankingUser;
pub use redemptions::{
    NewRedemption, REDEMPTION_DISABLED, REDEMPTION_ENABLED, REDEMPTION_USED, RedemptionRow,
    RedemptionSearch,
};
pub use registration::Registration;
pub use self_service::{ProfileOutcome, SelfDeleteOutcome};
pub use sessions::SessionRow;
pub use settlement::{
    LOG_TYPE_CONSUME, LOG_TYPE_ERROR, RelayRecord, SubscriptionBrief, UserBrief, Written,
};
pub use sign_in_ids::{EmailBinding, SignInSignup};
pub use status_monitors::{
    CheckHistory, CheckOutcome, MONITOR_KINDS, StatusMonitorFields, StatusMonitorRow,
};
pub use subscriptions::{
    BILLING_PREFERENCES, BalancePurchase, DURATION_UNITS, GrantOutcome, RESET_PERIODS,
    SUBSCRIPTION_ACTIVE, SUBSCRIPTION_CANCELLED, SUBSCRIPTION_EXPIRED, SubscriptionPlanFields,
    SubscriptionPlanRow, SubscriptionReset, UserSubscriptionRow, billing_preference_of,
    normalize_billing_preference, period_end,
};
pub use tasks::{
    LOG_TYPE_REFUND, NewTask, TASK_FAILURE, TASK_IN_PROGRESS, TASK_NOT_START, TASK_QUEUED,
    TASK_SUBMITTED, TASK_SUCCESS, TaskFailed, TaskFilter, TaskProgress, TaskRow,
};
pub use tokens::{
    KeyRateLimits, NewToken, StoredToken, TOKEN_STATUS_DISABLED, TOKEN_STATUS_ENABLED,
    TOKEN_STATUS_EXHAUSTED, TOKEN_STATUS_EXPIRED, TokenChanges, TokenCreation, TokenFilter,
    TokenRow, TokenUpdate,
};
pub use top_ups::{
    CancelOutcome, NewTopUp, PAYMENT_METHOD_REDEMPTION, TOPUP_CANCELLED, TOPUP_EXPIRED,
    TOPUP_PENDING, TOPUP_SUCCESS, TopUpFilter, TopUpRow,
};
pub use two_factor::{BackupCodeRow, TwoFactorRow};
pub use usage_stats::{PerfBucket, QuotaDatum, UserQuotaDatum};
pub use usage_summary::{HourRange, UsageDimension, UsageLine, UsageScope, UsageTotals};
pub use user_admin::{BindingColumn, UserProfile, UserSearch, UserSort, is_unique_violation};
pub use user_channels::{
    MemberFields, USER_CHANNEL_DISABLED, USER_CHANNEL_ENABLED, UserChannelDelete,
    UserChannelFields, UserChannelMember, UserChannelRow, UserChannelWrite,
};
pub use users::{NewUser, UserRow};
pub use vendors::{VendorFields, VendorRow};

use crate::config::Config;
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, Executor};
use std::str::FromStr;
use std::time::Duration;

/// Errors from the database layer.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("database error: {0}")]
    Sqlx(#[from] sqlx::Error),
    #[error("migration error: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("cannot prepare the data directory {path}: {source}")]
    DataDir {
        path: String,
        source: std::io::Error,
    },
    #[error("the database schema is not ready: {0}")]
    SchemaNotReady(String),
    #[error("a ledger movement the operation needs was not applied: {0}")]
    MovementNotApplied(String),
    /// A value longer than its column holds (see [`check_lengths`]); nothing was written.
    #[error("{field} is too long ({limit})")]
    TooLong { field: String, limit: String },
}

impl DbError {
    /// Whether the failure says nothing about the data: the database was unreachable, busy,
    /// locked or timed out, so the same write may succeed later. Anything else (a value out of
    /// range, too long, a constraint) is the row's fault.
    pub fn is_transient(&self) -> bool {
        let DbError::Sqlx(error) = self else {
            return matches!(self, DbError::SchemaNotReady(_));
        };
        match error {
            sqlx::Error::Database(database) => {
                let code = database.code();
                matches!(
                    code.as_deref(),
                    // SQLite: busy, locked, I/O error, disk full, cannot open.
                    Some("5" | "6" | "10" | "13" | "14" | "261" | "262" | "517")
                    // MySQL/MariaDB SQLSTATEs: lock wait timeout / deadlock, connection errors.
                    | Some("40001" | "HY000" | "08S01" | "08004" | "08001")
                ) && !is_data_error(database.message())
            }
            _ => true,
        }
    }
}

/// MySQL reports data errors under the generic SQLSTATE HY000 too; its messages tell them apart.
fn is_data_error(message: &str) -> bool {
    let message = message.to_ascii_lowercase();
    [
        "out of range",
        "too long",
        "incorrect",
        "truncated",
        "cannot be null",
        "duplicate",
    ]
    .iter()
    .any(|needle| message.contains(needle))
}

/// A connection pool and the dialect it speaks. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Db {
    pool: AnyPool,
    dialect: Dialect,
}

impl Db {
    /// Connects to the configured database. A relative SQLite path is resolved against the
    /// working directory, and its directory is created when missing.
    pub async fn connect(config: &Config) -> Result<Self, DbError> {
        sqlx::any::install_default_drivers();
        let url = &config.database.url;
        let dialect = Dialect::of_url(url);
        let url = match dialect {
            Dialect::Sqlite => prepare_sqlite_url(url)?,
            Dialect::MySql => url.clone(),
        };
        let options = AnyConnectOptions::from_str(&url)?;
        let pool = AnyPoolOptions::new()
            .max_connections(config.database.max_connections)
            .acquire_timeout(Duration::from_secs(config.database.acquire_timeout_secs))
            .after_connect(move |conn, _meta| {
                Box::pin(async move {
                    for statement in dialect.session_setup() {
                        conn.execute(*statement).await?;
                    }
                    Ok(())
                })
            })
            .connect_with(options)
            .await?;
        Ok(Self { pool, dialect })
    }

    /// The dialect of this database.
    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// The pool, for the statements of this module.
    /// Connections of the pool: open, and idle among them.
    pub fn pool_connections(&self) -> (u32, usize) {
        (self.pool().size(), self.pool().num_idle())
    }

    pub(crate) fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Closes every connection.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// Makes sure the SQLite file can be created: its directory exists and `mode=rwc` is set.
fn prepare_sqlite_url(url: &str) -> Result<String, DbError> {
    let rest = url
        .trim_start_matches("sqlite://")
        .trim_start_matches("sqlite:");
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    let dir = std::path::Path::new(path).parent();
    if let Some(dir) = dir.filter(|d| path != ":memory:" && !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|source| DbError::DataDir {
            path: dir.display().to_string(),
            source,
        })?;
    }
    let query = if query.contains("mode=") {
        query.to_string()
    } else if query.is_empty() {
        "mode=rwc".to_string()
    } else {
        format!("{query}&mode=rwc")
    };
    Ok(format!("sqlite://{path}?{query}"))
}

impl Db {
    /// Sets one text column of the row `id` of `table`, checking its length first; `false` when
    /// there is no such row. (MySQL counts only rows whose values changed, so existence is read
    /// back in the same transaction.)
    pub(crate) async fn set_text_column(
        &self,
        table: &'static str,
        column: &'static str,
        id: i64,
        value: &str,
    ) -> Result<bool, DbError> {
        check_lengths(table, &[(column, value)])?;
        let mut tx = self.pool().begin().await?;
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE {table} SET {column} = ? WHERE id = ?"
        )))
        .bind(value)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        let exists: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT COUNT(*) FROM {table} WHERE id = ?"
        )))
        .bind(id)
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(exists > 0)
    }
}

/// The id of the row that `result`, an INSERT just run on `conn`, created. sqlx's `Any`
/// driver does not report SQLite's rowid, so SQLite is asked on the same connection.
pub(crate) async fn inserted_id(
    conn: &mut sqlx::AnyConnection,
    dialect: Dialect,
    result: &sqlx::any::AnyQueryResult,
) -> Result<i64, DbError> {
    match (result.last_insert_id(), dialect) {
        (Some(id), _) if id > 0 => Ok(id),
        (_, Dialect::Sqlite) => Ok(sqlx::query_scalar("SELECT last_insert_rowid()")
            .fetch_one(&mut *conn)
            .await?),
        (_, Dialect::MySql) => Err(DbError::Sqlx(sqlx::Error::Protocol(
            "MySQL reported no id for an INSERT".into(),
        ))),
    }
}

/// Seconds since the Unix epoch.
pub fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}
