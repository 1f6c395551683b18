//! `GET /api/user/self/groups` (the groups the caller may choose for a key, with the ratio the
//! caller pays in each and its description) and `GET /api/user/groups` (the same list; public,
//! as in new-api: without a login it is the list every user starts from).
//!
//! The groups come from the operator's options, as new-api reads them: `UserUsableGroups`
//! (`{group: description}`), adjusted per user group by
//! `group_ratio_setting.group_special_usable_group` (`{user group: {"+:g" | "-:g" | "g":
//! description}}`), and kept only where the group is priced in `GroupRatio` (or is the user's
//! own group): the groups a key may name. `auto` is listed when usable, with ratio "自动".

use crate::app::{App, AppState};
use crate::auth::{AuthUser, MaybeUser};
use crate::envelope;
use crate::error::{ApiError, ApiResult};
pub(super) use crate::routes::group::records::AUTO_GROUP;
use crate::routes::group::records::{DEFAULT_USABLE_GROUPS, OPTION_USABLE_GROUPS, text};
use axum::extract::State;
use pylon_shared::pricing::{OPTION_GROUP_RATIO, PriceTable};
use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, HashMap, HashSet};

/// Option key: per user group, groups added (`+:g` or `g`) to or removed (`-:g`) from the list.
const OPTION_SPECIAL_USABLE: &str = "group_ratio_setting.group_special_usable_group";
/// Option key: the groups `auto` tries, in order (a JSON array).
const OPTION_AUTO_GROUPS: &str = "AutoGroups";
/// new-api's `AutoGroups` when the operator set none.
const DEFAULT_AUTO_GROUPS: [&str; 1] = ["default"];
/// Description of the user's own group when the operator did not list it.
const OWN_GROUP_DESC: &str = "用户分组";

/// The group options, read once per request.
pub(crate) struct GroupOptions {
    options: HashMap<String, String>,
    prices: PriceTable,
    /// The groups named in `GroupRatio`: the ones a key may name.
    priced: HashSet<String>,
}

impl GroupOptions {
    /// Reads every option once.
    pub(crate) async fn load(app: &App) -> Result<Self, ApiError> {
        let snapshot = app.settings.now();
        let options = snapshot.stored();
        let (prices, _problems) =
            PriceTable::from_options(options.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        let priced = options
            .get(OPTION_GROUP_RATIO)
            .and_then(|text| serde_json::from_str::<Map<String, Value>>(text).ok())
            .map(|ratios| ratios.into_iter().map(|(group, _)| group).collect())
            .unwrap_or_default();
        Ok(Self {
            options: options.clone(),
            prices,
            priced,
        })
    }

    fn object(&self, key: &str) -> Option<Map<String, Value>> {
        self.options
            .get(key)
            .and_then(|text| serde_json::from_str(text).ok())
    }

    /// The groups a user of `user_group` may use (`None`: before login), with descriptions.
    pub(crate) fn usable(&self, user_group: Option<&str>) -> BTreeMap<String, String> {
        let mut groups: BTreeMap<String, String> = match self.object(OPTION_USABLE_GROUPS) {
            Some(map) => map.into_iter().map(|(k, v)| (k, text(&v))).collect(),
            None => DEFAULT_USABLE_GROUPS
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        };
        let Some(user_group) = user_group.filter(|g| !g.is_empty()) else {
            return groups;
        };
        let special = self
            .object(OPTION_SPECIAL_USABLE)
            .and_then(|mut all| all.remove(user_group));
        if let Some(Value::Object(rules)) = special {
            for (rule, desc) in rules {
                if let Some(removed) = rule.strip_prefix("-:") {
                    groups.remove(removed);
                } else {
                    let added = rule.strip_prefix("+:").unwrap_or(&rule);
                    groups.insert(added.to_string(), text(&desc));
                }
            }
        }
        groups
            .entry(user_group.to_string())
            .or_insert_with(|| OWN_GROUP_DESC.to_string());
        groups
    }

    /// Whether `group` may be named by a key of a user of `user_group`: priced, or their own.
    fn priced(&self, group: &str, user_group: Option<&str>) -> bool {
        user_group == Some(group) || self.priced.contains(group)
    }

    /// The groups (other than `auto`) a user of `user_group` may choose, with descriptions.
    pub(super) fn selectable(&self, user_group: Option<&str>) -> BTreeMap<String, String> {
        let mut groups = self.usable(user_group);
        groups.retain(|name, _| name != AUTO_GROUP && self.priced(name, user_group));
        groups
    }

    /// Whether `auto` is usable for a user of `user_group`.
    pub(super) fn auto_usable(&self, user_group: Option<&str>) -> bool {
        self.usable(user_group).contains_key(AUTO_GROUP)
    }

    /// The groups `auto` routes through for a user of `user_group`, in order.
    pub(crate) fn auto_groups(&self, user_group: Option<&str>) -> Vec<String> {
        let configured: Vec<String> = self
            .options
            .get(OPTION_AUTO_GROUPS)
            .and_then(|text| serde_json::from_str(text).ok())
            .unwrap_or_else(|| DEFAULT_AUTO_GROUPS.iter().map(|g| g.to_string()).collect());
        let selectable = self.selectable(user_group);
        configured
            .into_iter()
            .filter(|g| selectable.contains_key(g))
            .collect()
    }

    /// The listing new-api returns: `{group: {"ratio", "desc"}}`.
    fn listing(&self, user_group: Option<&str>) -> Map<String, Value> {
        let mut listing = Map::new();
        for (name, desc) in self.selectable(user_group) {
            let ratio = match user_group {
                Some(user_group) => self.prices.group_ratio_for(user_group, &name),
                None => self.prices.group_ratio(&name),
            };
            listing.insert(name, json!({ "ratio": ratio, "desc": desc }));
        }
        if let Some(desc) = self.usable(user_group).get(AUTO_GROUP) {
            listing.insert(
                AUTO_GROUP.to_string(),
                json!({ "ratio": "自动", "desc": desc }),
            );
        }
        listing
    }
}

/// `GET /api/user/self/groups`.
pub async fn own(State(app): State<AppState>, AuthUser { user }: AuthUser) -> ApiResult {
    let options = GroupOptions::load(&app).await?;
    Ok(envelope::ok(options.listing(Some(&user.group))))
}

/// `GET /api/user/groups`: the caller's list when logged in, else the list before login.
pub async fn public(State(app): State<AppState>, MaybeUser(caller): MaybeUser) -> ApiResult {
    let options = GroupOptions::load(&app).await?;
    let user_group = caller.map(|AuthUser { user }| user.group);
    Ok(envelope::ok(options.listing(user_group.as_deref())))
}
