//! The `channels` table: upstream providers, with their keys, models, groups and routing
//! weights. The `abilities` table is derived from it (group x model x channel): every write
//! here rewrites the channel's abilities in the same transaction (see `super::abilities`).

use sqlx::AssertSqlSafe;

use super::abilities::{self, AbilitySource};
use super::channel_keys;
use super::{Db, DbError, now_secs};

/// A channel that routes requests.
pub const CHANNEL_ENABLED: i64 = 1;
/// A channel an admin disabled.
pub const CHANNEL_MANUALLY_DISABLED: i64 = 2;
/// A channel disabled automatically (failures); a successful test re-enables it.
pub const CHANNEL_AUTO_DISABLED: i64 = 3;

/// Every column of a channel.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ChannelRow {
    pub id: i64,
    /// Provider type (new-api numbering; 1 = OpenAI-compatible).
    pub r#type: i64,
    pub name: String,
    /// One upstream key per line.
    pub keys: String,
    /// `random` or `round_robin`.
    pub key_mode: String,
    /// 1 enabled, 2 disabled by an admin, 3 disabled automatically.
    pub status: i64,
    pub status_reason: String,
    pub base_url: String,
    /// Comma-separated model names.
    pub models: String,
    /// Comma-separated groups.
    pub group: String,
    /// JSON object: requested model -> upstream model.
    pub model_mapping: String,
    /// JSON object: header -> value, sent upstream.
    pub header_override: String,
    pub priority: i64,
    pub weight: i64,
    pub test_model: String,
    pub openai_organization: String,
    /// 1: failures may disable the channel automatically.
    pub auto_ban: i64,
    pub tag: String,
    pub other: String,
    pub setting: String,
    /// new-api's `settings` (its OtherSettings): a JSON object, or empty.
    pub settings: String,
    pub remark: String,
    pub balance: f64,
    pub balance_updated_time: i64,
    pub response_time: i64,
    pub test_time: i64,
    pub used_quota: i64,
    pub created_time: i64,
    /// Seed 001's `{"group": "multiplier"}` JSON (exact decimal text); empty: none. Set only by
    /// [`Db::set_channel_group_multipliers`], so channel edits keep it.
    pub group_multipliers: String,
}

/// The columns of [`ChannelRow`], as a literal so that queries stay `&'static str`.
macro_rules! channel_columns {
    () => {
        "id, type, name, `keys`, key_mode, status, status_reason, base_url, models, `group`, \
         model_mapping, header_override, priority, weight, test_model, openai_organization, \
         auto_ban, tag, other, setting, settings, remark, balance, balance_updated_time, \
         response_time, test_time, used_quota, created_time, group_multipliers"
    };
}

/// The columns an admin writes (everything but counters, balance and test results).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelFields {
    pub r#type: i64,
    pub name: String,
    /// One key per line.
    pub keys: String,
    pub key_mode: String,
    pub status: i64,
    pub status_reason: String,
    pub base_url: String,
    pub models: String,
    pub group: String,
    pub model_mapping: String,
    pub header_override: String,
    pub priority: i64,
    pub weight: i64,
    pub test_model: String,
    pub openai_organization: String,
    pub auto_ban: i64,
    pub tag: String,
    pub other: String,
    pub setting: String,
    /// new-api's `settings` JSON object (empty: none).
    pub settings: String,
    pub remark: String,
}

impl From<&ChannelRow> for ChannelFields {
    fn from(row: &ChannelRow) -> Self {
        Self {
            r#type: row.r#type,
            name: row.name.clone(),
            keys: row.keys.clone(),
            key_mode: row.key_mode.clone(),
            status: row.status,
            status_reason: row.status_reason.clone(),
            base_url: row.base_url.clone(),
            models: row.models.clone(),
            group: row.group.clone(),
            model_mapping: row.model_mapping.clone(),
            header_override: row.header_override.clone(),
            priority: row.priority,
            weight: row.weight,
            test_model: row.test_model.clone(),
            openai_organization: row.openai_organization.clone(),
            auto_ban: row.auto_ban,
            tag: row.tag.clone(),
            other: row.other.clone(),
            setting: row.setting.clone(),
            settings: row.settings.clone(),
            remark: row.remark.clone(),
        }
    }
}

impl ChannelFields {
    /// Refuses a value longer than its column, here or in the abilities it derives (each group
    /// and model of its lists is a row there).
    fn check_lengths(&self) -> Result<(), DbError> {
        super::check_lengths(
            "channels",
            &[
                ("name", &self.name),
                ("keys", &self.keys),
                ("key_mode", &self.key_mode),
                ("status_reason", &self.status_reason),
                ("base_url", &self.base_url),
                ("models", &self.models),
                ("group", &self.group),
                ("model_mapping", &self.model_mapping),
                ("header_override", &self.header_override),
                ("test_model", &self.test_model),
                ("openai_organization", &self.openai_organization),
                ("tag", &self.tag),
                ("other", &self.other),
                ("setting", &self.setting),
                ("settings", &self.settings),
                ("remark", &self.remark),
            ],
        )?;
        for group in abilities::split_list(&self.group) {
            super::check_lengths("abilities", &[("group", group)])?;
        }
        for model in abilities::split_list(&self.models) {
            super::check_lengths("abilities", &[("model", model)])?;
        }
        Ok(())
    }

    fn ability_source(&self, channel_id: i64) -> AbilitySource<'_> {
        AbilitySource {
            channel_id,
            group: &self.group,
            models: &self.models,
            status: self.status,
            priority: self.priority,
            weight: self.weight,
            tag: &self.tag,
        }
    }
}

/// Which statuses a list shows (new-api's `status` query: `enabled`, `disabled` or all).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum StatusFilter {
    #[default]
    All,
    /// Status 1 only.
    Enabled,
    /// Every status but 1 (disabled by an admin or automatically).
    Disabled,
}

/// Filters of the channel list.
#[derive(Debug, Clone, Default)]
pub struct ChannelFilter {
    /// Channels serving this group (one item of their comma-separated `group`).
    pub group: Option<String>,
    pub status: StatusFilter,
    pub r#type: Option<i64>,
}

/// A column a channel list can be sorted by (new-api's `sort_by`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ChannelSort {
    #[default]
    Priority,
    Id,
    Name,
    Balance,
    ResponseTime,
    TestTime,
}

impl ChannelSort {
    fn column(self) -> &'static str {
        match self {
            ChannelSort::Priority => "priority",
            ChannelSort::Id => "id",
            ChannelSort::Name => "name",
            ChannelSort::Balance => "balance",
            ChannelSort::ResponseTime => "response_time",
            ChannelSort::TestTime => "test_time",
        }
    }
}

/// The order of a channel list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChannelOrder {
    pub sort: ChannelSort,
    pub descending: bool,
}

impl Default for ChannelOrder {
    /// new-api's default: highest priority first.
    fn default() -> Self {
        Self {
            sort: ChannelSort::Priority,
            descending: true,
        }
    }
}

impl ChannelOrder {
    /// The ORDER BY clause; ties fall back to the newest id so that pages are stable.
    fn clause(self) -> String {
        let direction = if self.descending { "DESC" } else { "ASC" };
        match self.sort {
            ChannelSort::Id => format!(" ORDER BY id {direction}"),
            sort => format!(" ORDER BY {} {direction}, id DESC", sort.column()),
        }
    }
}

/// The criteria of `GET /api/channel/search`.
#[derive(Debug, Clone, Default)]
pub struct ChannelSearch {
    /// Matches the id, a substring of the name or base URL, or one whole key.
    pub keyword: String,
    /// A substring of the model list.
    pub model: String,
    pub group: Option<String>,
    pub status: StatusFilter,
}

/// A value bound to a dynamically built statement.
pub(super) enum Arg {
    Int(i64),
    Text(String),
}

/// Binds `args` in order to a query of any kind.
macro_rules! bind_args {
    ($query:expr, $args:expr) => {{
        let mut query = $query;
        for arg in $args {
            query = match arg {
                Arg::Int(value) => query.bind(*value),
                Arg::Text(value) => query.bind(value.clone()),
            };
        }
        query
    }};
}
pub(super) use bind_args;

/// Escapes `%`, `_` and the escape character itself for `LIKE ... ESCAPE '!'` (the same
/// escape character works on SQLite and MySQL, unlike a backslash).
pub(super) fn like_escape(text: &str) -> String {
    text.replace('!', "!!")
        .replace('%', "!%")
        .replace('_', "!_")
}

/// Conditions and arguments of a WHERE clause built piece by piece.
#[derive(Default)]
struct Conditions {
    parts: Vec<String>,
    args: Vec<Arg>,
}

impl Conditions {
    fn sql(&self) -> String {
        if self.parts.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", self.parts.join(" AND "))
        }
    }

    /// The channel serves `group`: it is one item of the comma-separated list.
    fn group(&mut self, group: &str) {
        let escaped = like_escape(group);
        self.parts.push(
            "(`group` = ? OR `group` LIKE ? ESCAPE '!' OR `group` LIKE ? ESCAPE '!' \
             OR `group` LIKE ? ESCAPE '!')"
                .into(),
        );
        self.args.push(Arg::Text(group.to_string()));
        self.args.push(Arg::Text(format!("{escaped},%")));
        self.args.push(Arg::Text(format!("%,{escaped}")));
        self.args.push(Arg::Text(format!("%,{escaped},%")));
    }

    fn status(&mut self, status: StatusFilter) {
        match status {
            StatusFilter::All => {}
            StatusFilter::Enabled => {
                self.parts.push("status = ?".into());
                self.args.push(Arg::Int(CHANNEL_ENABLED));
            }
            StatusFilter::Disabled => {
                self.parts.push("status <> ?".into());
                self.args.push(Arg::Int(CHANNEL_ENABLED));
            }
        }
    }

    fn filter(filter: &ChannelFilter, with_type: bool) -> Self {
        let mut conditions = Self::default();
        if let Some(group) = filter.group.as_deref() {
            conditions.group(group);
        }
        conditions.status(filter.status);
        if let Some(kind) = filter.r#type.filter(|_| with_type) {
            conditions.parts.push("type = ?".into());
            conditions.args.push(Arg::Int(kind));
        }
        conditions
    }
}

impl Db {
    /// Every channel (the proxy's routing snapshot).
    pub async fn all_channels(&self) -> Result<Vec<ChannelRow>, DbError> {
        let query = sqlx::query(concat!("SELECT ", channel_columns!(), " FROM channels"));
        self.fetch_decoded("channels", query).await
    }

    /// One channel by id.
    pub async fn channel_by_id(&self, id: i64) -> Result<Option<ChannelRow>, DbError> {
        Ok(sqlx::query_as(concat!(
            "SELECT ",
            channel_columns!(),
            " FROM channels WHERE id = ?"
        ))
        .bind(id)
        .fetch_optional(self.pool())
        .await?)
    }

    /// One page of the channels `filter` selects, in `order`.
    pub async fn list_channels(
        &self,
        filter: &ChannelFilter,
        order: ChannelOrder,
        offset: i64,
        limit: i64,
    ) -> Result<Vec<ChannelRow>, DbError> {
        let conditions = Conditions::filter(filter, true);
        let sql = format!(
            "SELECT {} FROM channels{}{} LIMIT ? OFFSET ?",
            channel_columns!(),
            conditions.sql(),
            order.clause()
        );
        let query = bind_args!(sqlx::query_as(AssertSqlSafe(sql)), &conditions.args);
        Ok(query
            .bind(limit)
            .bind(offset)
            .fetch_all(self.pool())
            .await?)
    }

    /// How many channels `filter` selects.
    pub async fn count_channels(&self, filter: &ChannelFilter) -> Result<i64, DbError> {
        let conditions = Conditions::filter(filter, true);
        let sql = format!("SELECT COUNT(*) FROM channels{}", conditions.sql());
        let query = bind_args!(sqlx::query_scalar(AssertSqlSafe(sql)), &conditions.args);
        Ok(query.fetch_one(self.pool()).await?)
    }

    /// Channels per type among those `filter` selects, ignoring its type (the filter bar).
    pub async fn channel_type_counts(
        &self,
        filter: &ChannelFilter,
    ) -> Result<Vec<(i64, i64)>, DbError> {
        let conditions = Conditions::filter(filter, false);
        let sql = format!(
            "SELECT type, COUNT(*) FROM channels{} GROUP BY type ORDER BY type",
            conditions.sql()
        );
        let query = bind_args!(sqlx::query_as(AssertSqlSafe(sql)), &conditions.args);
        Ok(query.fetch_all(self.pool()).await?)
    }

    /// Every channel matching a search, in `order`.
    pub async fn search_channels(
        &self,
        search: &ChannelSearch,
        order: ChannelOrder,
    ) -> Result<Vec<ChannelRow>, DbError> {
        let mut conditions = Conditions::default();
        let keyword = search.keyword.trim();
        let escaped = like_escape(keyword);
        // Names, URLs and models match regardless of case on both databases (SQLite's LIKE
        // ignores ASCII case, MySQL's follows the collation, which is binary here).
        let lower = escaped.to_ascii_lowercase();
        let mut any =
            "(id = ? OR LOWER(name) LIKE ? ESCAPE '!' OR LOWER(base_url) LIKE ? ESCAPE '!'"
                .to_string();
        conditions.args.push(Arg::Int(keyword.parse().unwrap_or(0)));
        conditions.args.push(Arg::Text(format!("%{lower}%")));
        conditions.args.push(Arg::Text(format!("%{lower}%")));
        if !keyword.is_empty() {
            // A key matches only whole (one line of `keys`): never by substring, so that a
            // search cannot be used to guess keys piece by piece.
            any.push_str(
                " OR `keys` = ? OR `keys` LIKE ? ESCAPE '!' OR `keys` LIKE ? ESCAPE '!' \
                 OR `keys` LIKE ? ESCAPE '!'",
            );
            conditions.args.push(Arg::Text(keyword.to_string()));
            conditions.args.push(Arg::Text(format!("{escaped}\n%")));
            conditions.args.push(Arg::Text(format!("%\n{escaped}")));
            conditions.args.push(Arg::Text(format!("%\n{escaped}\n%")));
        }
        any.push(')');
        conditions.parts.push(any);
        conditions
            .parts
            .push("LOWER(models) LIKE ? ESCAPE '!'".into());
        conditions.args.push(Arg::Text(format!(
            "%{}%",
            like_escape(search.model.trim()).to_ascii_lowercase()
        )));
        if let Some(group) = search.group.as_deref() {
            conditions.group(group);
        }
        conditions.status(search.status);
        let sql = format!(
            "SELECT {} FROM channels{}{}",
            channel_columns!(),
            conditions.sql(),
            order.clause()
        );
        let query = bind_args!(sqlx::query_as(AssertSqlSafe(sql)), &conditions.args);
        Ok(query.fetch_all(self.pool()).await?)
    }

    /// The `models` column of every channel.
    pub async fn channel_model_lists(&self) -> Result<Vec<String>, DbError> {
        Ok(sqlx::query_scalar("SELECT models FROM channels")
            .fetch_all(self.pool())
            .await?)
    }

    /// Every channel's type and `models` list (the models known per channel type).
    pub async fn channel_type_model_lists(&self) -> Result<Vec<(i64, String)>, DbError> {
        Ok(sqlx::query_as("SELECT type, models FROM channels")
            .fetch_all(self.pool())
            .await?)
    }

    /// Creates channels and their abilities, all or none, and returns their ids in order.
    pub async fn insert_channels(&self, channels: &[ChannelFields]) -> Result<Vec<i64>, DbError> {
        for channel in channels {
            channel.check_lengths()?;
        }
        let mut tx = self.pool().begin().await?;
        let mut ids = Vec::with_capacity(channels.len());
        for channel in channels {
            let result = sqlx::query(
                "INSERT INTO channels (type, name, `keys`, key_mode, status, status_reason, \
                 base_url, models, `group`, model_mapping, header_override, priority, weight, \
                 test_model, openai_organization, auto_ban, tag, other, setting, settings, \
                 remark, created_time) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, \
                 ?, ?, ?, ?, ?)",
            )
            .bind(channel.r#type)
            .bind(&channel.name)
            .bind(&channel.keys)
            .bind(&channel.key_mode)
            .bind(channel.status)
            .bind(&channel.status_reason)
            .bind(&channel.base_url)
            .bind(&channel.models)
            .bind(&channel.group)
            .bind(&channel.model_mapping)
            .bind(&channel.header_override)
            .bind(channel.priority)
            .bind(channel.weight)
            .bind(&channel.test_model)
            .bind(&channel.openai_organization)
            .bind(channel.auto_ban)
            .bind(&channel.tag)
            .bind(&channel.other)
            .bind(&channel.setting)
            .bind(&channel.settings)
            .bind(&channel.remark)
            .bind(now_secs())
            .execute(&mut *tx)
            .await?;
            let id = super::inserted_id(&mut tx, self.dialect(), &result).await?;
            abilities::replace_abilities(&mut tx, self.dialect(), &channel.ability_source(id))
                .await?;
            ids.push(id);
        }
        tx.commit().await?;
        Ok(ids)
    }

    /// Overwrites the admin-set columns of a channel and rebuilds its abilities, in one
    /// transaction. `false` when there is no such channel (nothing is changed).
    pub async fn update_channel(&self, id: i64, channel: &ChannelFields) -> Result<bool, DbError> {
        channel.check_lengths()?;
        let mut tx = self.pool().begin().await?;
        if !update_in(&mut tx, self.dialect(), id, channel).await? {
            tx.rollback().await?;
            return Ok(false);
        }
        tx.commit().await?;
        Ok(true)
    }

    /// Replaces a channel's model list with `models` if it still is `old` (a compare-and-set,
    /// so that a sync never overwrites an administrator's concurrent edit), and rebuilds its
    /// abilities from the row as it now is, in one transaction. False when the channel is gone
    /// or its list changed meanwhile (nothing is written).
    pub async fn replace_channel_models(
        &self,
        id: i64,
        old: &str,
        models: &str,
    ) -> Result<bool, DbError> {
        super::check_lengths("channels", &[("models", models)])?;
        for model in abilities::split_list(models) {
            super::check_lengths("abilities", &[("model", model)])?;
        }
        let mut tx = self.pool().begin().await?;
        // The write comes first so that SQLite takes the write lock at once.
        sqlx::query("UPDATE channels SET models = ? WHERE id = ? AND models = ?")
            .bind(models)
            .bind(id)
            .bind(old)
            .execute(&mut *tx)
            .await?;
        let row: Option<ChannelRow> = sqlx::query_as(concat!(
            "SELECT ",
            channel_columns!(),
            " FROM channels WHERE id = ?"
        ))
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row.filter(|row| row.models == models) else {
            tx.rollback().await?;
            return Ok(false);
        };
        let fields = ChannelFields::from(&row);
        abilities::replace_abilities(&mut tx, self.dialect(), &fields.ability_source(id)).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Replaces a channel's model list and `settings` with `models` and `settings` if both still
    /// are `old_models` and `old_settings` (a compare-and-set against a concurrent edit), and
    /// rebuilds its abilities from the row as it now is, in one transaction. False when the
    /// channel is gone or either changed meanwhile (nothing is written).
    pub async fn replace_channel_models_and_settings(
        &self,
        id: i64,
        (old_models, old_settings): (&str, &str),
        (models, settings): (&str, &str),
    ) -> Result<bool, DbError> {
        super::check_lengths("channels", &[("models", models), ("settings", settings)])?;
        for model in abilities::split_list(models) {
            super::check_lengths("abilities", &[("model", model)])?;
        }
        let mut tx = self.pool().begin().await?;
        // The write comes first so that SQLite takes the write lock at once.
        sqlx::query(
            "UPDATE channels SET models = ?, settings = ? WHERE id = ? AND models = ? \
             AND settings = ?",
        )
        .bind(models)
        .bind(settings)
        .bind(id)
        .bind(old_models)
        .bind(old_settings)
        .execute(&mut *tx)
        .await?;
        let row: Option<ChannelRow> = sqlx::query_as(concat!(
            "SELECT ",
            channel_columns!(),
            " FROM channels WHERE id = ?"
        ))
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row.filter(|row| row.models == models && row.settings == settings) else {
            tx.rollback().await?;
            return Ok(false);
        };
        let fields = ChannelFields::from(&row);
        abilities::replace_abilities(&mut tx, self.dialect(), &fields.ability_source(id)).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Overwrites the admin-set columns of several channels and rebuilds their abilities, all
    /// in one transaction (all or none). Returns the ids that existed.
    pub async fn update_channels(
        &self,
        channels: &[(i64, ChannelFields)],
    ) -> Result<Vec<i64>, DbError> {
        for (_, channel) in channels {
            channel.check_lengths()?;
        }
        let mut tx = self.pool().begin().await?;
        let mut updated = Vec::with_capacity(channels.len());
        for (id, channel) in channels {
            if update_in(&mut tx, self.dialect(), *id, channel).await? {
                updated.push(*id);
            }
        }
        tx.commit().await?;
        Ok(updated)
    }

    /// Sets a channel's status and reason, and whether its abilities are enabled, in one
    /// transaction. `false` when there is no such channel.
    pub async fn set_channel_status(
        &self,
        id: i64,
        status: i64,
        reason: &str,
    ) -> Result<bool, DbError> {
        let mut tx = self.pool().begin().await?;
        sqlx::query("UPDATE channels SET status = ?, status_reason = ? WHERE id = ?")
            .bind(status)
            .bind(reason)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        let exists: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM channels WHERE id = ?")
            .bind(id)
            .fetch_one(&mut *tx)
            .await?;
        if exists == 0 {
            tx.rollback().await?;
            return Ok(false);
        }
        abilities::set_abilities_enabled(&mut tx, id, status == CHANNEL_ENABLED).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Deletes channels and their abilities in one transaction; returns the ids that existed.
    pub async fn delete_channels(&self, ids: &[i64]) -> Result<Vec<i64>, DbError> {
        let mut tx = self.pool().begin().await?;
        let mut deleted = Vec::new();
        for &id in ids {
            let result = sqlx::query("DELETE FROM channels WHERE id = ?")
                .bind(id)
                .execute(&mut *tx)
                .await?;
            abilities::delete_abilities(&mut tx, id).await?;
            channel_keys::forget_all_keys(&mut tx, id).await?;
            if result.rows_affected() > 0 && !deleted.contains(&id) {
                deleted.push(id);
            }
        }
        tx.commit().await?;
        Ok(deleted)
    }

    /// Deletes every disabled channel (by an admin or automatically) with its abilities, in one
    /// transaction; returns their ids.
    pub async fn delete_disabled_channels(&self) -> Result<Vec<i64>, DbError> {
        // Read outside the transaction so that inside it the first statement is a write (SQLite
        // then takes the write lock at once); the status is checked again by each delete.
        let candidates: Vec<i64> = sqlx::query_scalar("SELECT id FROM channels WHERE status <> ?")
            .bind(CHANNEL_ENABLED)
            .fetch_all(self.pool())
            .await?;
        let mut tx = self.pool().begin().await?;
        let mut deleted = Vec::with_capacity(candidates.len());
        for id in candidates {
            let result = sqlx::query("DELETE FROM channels WHERE id = ? AND status <> ?")
                .bind(id)
                .bind(CHANNEL_ENABLED)
                .execute(&mut *tx)
                .await?;
            if result.rows_affected() > 0 {
                abilities::delete_abilities(&mut tx, id).await?;
                channel_keys::forget_all_keys(&mut tx, id).await?;
                deleted.push(id);
            }
        }
        tx.commit().await?;
        Ok(deleted)
    }

    /// Replaces a channel's model mapping with `mapping` if it still is `old` (a compare-and-set
    /// against a concurrent edit); false when the channel is gone or its mapping changed.
    pub async fn replace_channel_model_mapping(
        &self,
        id: i64,
        old: &str,
        mapping: &str,
    ) -> Result<bool, DbError> {
        super::check_lengths("channels", &[("model_mapping", mapping)])?;
        let mut tx = self.pool().begin().await?;
        sqlx::query("UPDATE channels SET model_mapping = ? WHERE id = ? AND model_mapping = ?")
            .bind(mapping)
            .bind(id)
            .bind(old)
            .execute(&mut *tx)
            .await?;
        // MySQL counts only rows whose values changed, so the outcome is read back.
        let now: Option<String> =
            sqlx::query_scalar("SELECT model_mapping FROM channels WHERE id = ?")
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?;
        tx.commit().await?;
        Ok(now.as_deref() == Some(mapping))
    }

    /// Sets a channel's group multipliers (`{"group": "multiplier"}` JSON, or empty); `false`
    /// when there is no such channel.
    pub async fn set_channel_group_multipliers(
        &self,
        id: i64,
        multipliers: &str,
    ) -> Result<bool, DbError> {
        self.set_text_column("channels", "group_multipliers", id, multipliers)
            .await
    }

    /// Records a test: its response time in milliseconds, at the current time.
    pub async fn record_channel_test(&self, id: i64, response_time_ms: i64) -> Result<(), DbError> {
        sqlx::query("UPDATE channels SET response_time = ?, test_time = ? WHERE id = ?")
            .bind(response_time_ms)
            .bind(now_secs())
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Records the upstream balance (USD) of a channel, at the current time.
    pub async fn set_channel_balance(&self, id: i64, balance: f64) -> Result<(), DbError> {
        sqlx::query("UPDATE channels SET balance = ?, balance_updated_time = ? WHERE id = ?")
            .bind(balance)
            .bind(now_secs())
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(())
    }
}

/// Overwrites the admin-set columns of channel `id` and rebuilds its abilities on `conn` (a transaction);
/// false (nothing written) when there is no such channel.
async fn update_in(
    conn: &mut sqlx::AnyConnection,
    dialect: super::Dialect,
    id: i64,
    channel: &ChannelFields,
) -> Result<bool, DbError> {
    // The write comes first so that SQLite takes the write lock at once.
    sqlx::query(
        "UPDATE channels SET type = ?, name = ?, `keys` = ?, key_mode = ?, status = ?, \
         status_reason = ?, base_url = ?, models = ?, `group` = ?, model_mapping = ?, \
         header_override = ?, priority = ?, weight = ?, test_model = ?, \
         openai_organization = ?, auto_ban = ?, tag = ?, other = ?, setting = ?, \
         settings = ?, remark = ? WHERE id = ?",
    )
    .bind(channel.r#type)
    .bind(&channel.name)
    .bind(&channel.keys)
    .bind(&channel.key_mode)
    .bind(channel.status)
    .bind(&channel.status_reason)
    .bind(&channel.base_url)
    .bind(&channel.models)
    .bind(&channel.group)
    .bind(&channel.model_mapping)
    .bind(&channel.header_override)
    .bind(channel.priority)
    .bind(channel.weight)
    .bind(&channel.test_model)
    .bind(&channel.openai_organization)
    .bind(channel.auto_ban)
    .bind(&channel.tag)
    .bind(&channel.other)
    .bind(&channel.setting)
    .bind(&channel.settings)
    .bind(&channel.remark)
    .bind(id)
    .execute(&mut *conn)
    .await?;
    // MySQL counts only rows whose values changed, so existence is checked separately.
    let exists: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM channels WHERE id = ?")
        .bind(id)
        .fetch_one(&mut *conn)
        .await?;
    if exists == 0 {
        return Ok(false);
    }
    abilities::replace_abilities(conn, dialect, &channel.ability_source(id)).await?;
    channel_keys::forget_other_keys(conn, id, channel.r#type, &channel.keys).await?;
    Ok(true)
}
