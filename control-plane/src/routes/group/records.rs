//! Groups as records (name, description, ratio, whether users may select them) read from and
//! written to the two options that are their only storage, as in new-api: `GroupRatio`
//! (`{group: ratio}`, which the relay prices with) and `UserUsableGroups` (`{group:
//! description}` of the groups users may pick for their keys). A group is a name of
//! `GroupRatio`, plus `default`, every account's starting group. So `PUT /api/option/` and
//! `/api/groups` always show the same truth, and the relay needs no second source.
//!
//! A write reads both options from the database, changes them together and stores them only
//! if neither changed meanwhile (a compare-and-set, retried), so concurrent writers on any
//! node never overwrite each other.

use crate::app::App;
use crate::error::ApiError;
use pylon_shared::db::OptionSwap;
use pylon_shared::pricing::OPTION_GROUP_RATIO;
use serde::Serialize;
use serde_json::{Map, Number, Value};

pub(crate) use pylon_shared::groups::{DEFAULT_USABLE_GROUPS, OPTION_USABLE_GROUPS};
/// The group every account starts in.
pub(crate) const DEFAULT_GROUP: &str = "default";
/// new-api's automatic group: a routing rule (`AutoGroups`), not a group of its own.
pub(crate) const AUTO_GROUP: &str = "auto";
/// How often a write is retried when another writer changed the options first.
const ATTEMPTS: usize = 10;

/// One group as the `/api/groups` routes show it. Its name is its id: accounts, keys and
/// channels refer to groups by name.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct GroupRecord {
    pub id: String,
    pub name: String,
    pub description: String,
    /// The multiplier of every price in this group (`GroupRatio`; 1 when unlisted).
    pub ratio: Number,
    /// Whether users may pick it for their keys (listed in `UserUsableGroups`).
    pub user_selectable: bool,
}

/// The two group options as stored, and as they would be after a change.
pub(crate) struct GroupOptions {
    stored_ratios: Option<String>,
    stored_usable: Option<String>,
    ratios: Map<String, Value>,
    usable: Map<String, Value>,
}

impl GroupOptions {
    /// Reads both options from the database (not the snapshot: a write must start from the
    /// stored values for its compare-and-set).
    pub(crate) async fn read(app: &App) -> Result<Self, ApiError> {
        let stored_ratios = app.db.option(OPTION_GROUP_RATIO).await?;
        let stored_usable = app.db.option(OPTION_USABLE_GROUPS).await?;
        Ok(Self::parse(stored_ratios, stored_usable))
    }

    /// The options of the current settings snapshot (for reads).
    pub(crate) fn current(app: &App) -> Self {
        let now = app.settings.now();
        Self::parse(
            now.get(OPTION_GROUP_RATIO).map(str::to_string),
            now.get(OPTION_USABLE_GROUPS).map(str::to_string),
        )
    }

    fn parse(stored_ratios: Option<String>, stored_usable: Option<String>) -> Self {
        let object = |text: &Option<String>| -> Option<Map<String, Value>> {
            text.as_deref().and_then(|t| serde_json::from_str(t).ok())
        };
        let ratios = object(&stored_ratios).unwrap_or_default();
        let usable = object(&stored_usable).unwrap_or_else(|| {
            DEFAULT_USABLE_GROUPS
                .iter()
                .map(|(name, desc)| (name.to_string(), Value::String(desc.to_string())))
                .collect()
        });
        Self {
            stored_ratios,
            stored_usable,
            ratios,
            usable,
        }
    }

    /// Every group, sorted by name.
    pub(crate) fn records(&self) -> Vec<GroupRecord> {
        let mut names: Vec<&str> = self.ratios.keys().map(String::as_str).collect();
        if !self.ratios.contains_key(DEFAULT_GROUP) {
            names.push(DEFAULT_GROUP);
        }
        names.sort_unstable();
        names
            .into_iter()
            .filter(|name| *name != AUTO_GROUP)
            .filter_map(|name| self.record(name))
            .collect()
    }

    /// The group called `name`, if it exists.
    pub(crate) fn record(&self, name: &str) -> Option<GroupRecord> {
        if name == AUTO_GROUP || (name != DEFAULT_GROUP && !self.ratios.contains_key(name)) {
            return None;
        }
        let ratio = match self.ratios.get(name) {
            Some(Value::Number(ratio)) => ratio.clone(),
            _ => Number::from(1),
        };
        let description = self.usable.get(name);
        Some(GroupRecord {
            id: name.to_string(),
            name: name.to_string(),
            description: description.map(text).unwrap_or_default(),
            ratio,
            user_selectable: description.is_some(),
        })
    }

    /// Sets a group's ratio, and whether users may select it with the description they see.
    pub(crate) fn set(&mut self, name: &str, ratio: Number, selectable: Option<String>) {
        self.ratios.insert(name.to_string(), Value::Number(ratio));
        match selectable {
            Some(description) => {
                self.usable
                    .insert(name.to_string(), Value::String(description));
            }
            None => {
                self.usable.remove(name);
            }
        }
    }

    /// Removes a group from both options.
    pub(crate) fn remove(&mut self, name: &str) {
        self.ratios.remove(name);
        self.usable.remove(name);
    }

    /// Stores both options if neither changed since they were read; false otherwise.
    async fn store(&self, app: &App) -> Result<bool, ApiError> {
        let ratios = Value::Object(self.ratios.clone()).to_string();
        let usable = Value::Object(self.usable.clone()).to_string();
        let swaps = [
            OptionSwap {
                key: OPTION_GROUP_RATIO,
                old: self.stored_ratios.as_deref(),
                new: &ratios,
            },
            OptionSwap {
                key: OPTION_USABLE_GROUPS,
                old: self.stored_usable.as_deref(),
                new: &usable,
            },
        ];
        Ok(app.settings.swap(&app.db, &app.changes, &swaps).await?)
    }
}

/// Reads the group options, applies `change` and stores the result, starting again when
/// another writer came first. `change` refuses (and nothing is written) with its error.
pub(crate) async fn change<T>(
    app: &App,
    mut change: impl FnMut(&mut GroupOptions) -> Result<T, ApiError>,
) -> Result<T, ApiError> {
    for _ in 0..ATTEMPTS {
        let mut options = GroupOptions::read(app).await?;
        let outcome = change(&mut options)?;
        if options.store(app).await? {
            return Ok(outcome);
        }
    }
    Err(ApiError::invalid(
        "The group options kept changing while being written; try again",
    ))
}

/// A description as text, whatever JSON type the operator wrote.
pub(crate) fn text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}
