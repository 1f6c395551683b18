//! What an administrator sends for a user channel, and the rules it must follow. Create takes
//! every field (only `name` is required); update takes any of them and keeps the rest.

use crate::error::ApiError;
use pylon_shared::db::{
    MemberFields, USER_CHANNEL_DISABLED, USER_CHANNEL_ENABLED, UserChannelMember, UserChannelRow,
    split_list,
};
use pylon_shared::pricing::Multiplier;
use serde::Deserialize;
use serde_json::Value;

/// The routing algorithms of a user channel.
pub const ALGORITHMS: [&str; 3] = ["priority", "round_robin", "weighted_round_robin"];
/// Members one user channel may have.
const MAX_MEMBERS: usize = 64;
/// The largest member weight.
const MAX_WEIGHT: i64 = 1000;
/// Groups one user channel may allow.
const MAX_GROUPS: usize = 64;

/// The body of a create or update; absent fields are `None`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserChannelInput {
    name: Option<String>,
    description: Option<String>,
    status: Option<i64>,
    multiplier: Option<Value>,
    algorithm: Option<String>,
    /// A list of group names or a comma-separated string; empty: every group.
    allowed_groups: Option<Value>,
    members: Option<Vec<MemberInput>>,
}

/// One member as sent.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MemberInput {
    channel_id: i64,
    #[serde(default)]
    priority: i64,
    #[serde(default = "one")]
    weight: i64,
}

fn one() -> i64 {
    1
}

/// A user channel's fields, checked, in their stored form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checked {
    pub name: String,
    pub description: String,
    pub status: i64,
    pub multiplier: String,
    pub algorithm: String,
    pub allowed_groups: String,
    pub members: Vec<MemberFields>,
}

impl Checked {
    /// The defaults of a new user channel (no name yet).
    fn new_defaults() -> Checked {
        Checked {
            name: String::new(),
            description: String::new(),
            status: USER_CHANNEL_ENABLED,
            multiplier: Multiplier::ONE.to_string(),
            algorithm: ALGORITHMS[0].to_string(),
            allowed_groups: String::new(),
            members: Vec::new(),
        }
    }

    /// A stored user channel, for an update to change.
    fn stored(row: &UserChannelRow, members: &[UserChannelMember]) -> Checked {
        Checked {
            name: row.name.clone(),
            description: row.description.clone(),
            status: row.status,
            multiplier: row.multiplier.clone(),
            algorithm: row.algorithm.clone(),
            allowed_groups: row.allowed_groups.clone(),
            members: members
                .iter()
                .map(|m| MemberFields {
                    channel_id: m.channel_id,
                    priority: m.priority,
                    weight: m.weight,
                })
                .collect(),
        }
    }
}

impl UserChannelInput {
    /// The fields of a new user channel.
    pub fn for_create(self) -> Result<Checked, ApiError> {
        if self.name.is_none() {
            return Err(ApiError::invalid("name is required"));
        }
        self.applied_to(Checked::new_defaults())
    }

    /// The stored user channel with this input's fields changed.
    pub fn for_update(
        self,
        row: &UserChannelRow,
        members: &[UserChannelMember],
    ) -> Result<Checked, ApiError> {
        self.applied_to(Checked::stored(row, members))
    }

    fn applied_to(self, mut fields: Checked) -> Result<Checked, ApiError> {
        if let Some(name) = self.name {
            let name = name.trim();
            if name.is_empty() || name.chars().count() > 128 {
                return Err(ApiError::invalid("name must have 1 to 128 characters"));
            }
            fields.name = name.to_string();
        }
        if let Some(description) = self.description {
            fields.description = description.trim().to_string();
        }
        if let Some(status) = self.status {
            if status != USER_CHANNEL_ENABLED && status != USER_CHANNEL_DISABLED {
                return Err(ApiError::invalid(
                    "status must be 1 (enabled) or 2 (disabled)",
                ));
            }
            fields.status = status;
        }
        if let Some(multiplier) = self.multiplier {
            fields.multiplier = Multiplier::from_json(&multiplier)
                .map_err(|problem| ApiError::invalid(format!("multiplier: {problem}")))?
                .to_string();
        }
        if let Some(algorithm) = self.algorithm {
            let algorithm = algorithm.trim();
            if !ALGORITHMS.contains(&algorithm) {
                return Err(ApiError::invalid(format!(
                    "algorithm must be one of {}",
                    ALGORITHMS.join(", ")
                )));
            }
            fields.algorithm = algorithm.to_string();
        }
        if let Some(groups) = self.allowed_groups {
            fields.allowed_groups = allowed_groups(&groups)?;
        }
        if let Some(members) = self.members {
            fields.members = checked_members(&members)?;
        }
        Ok(fields)
    }
}

/// A list of group names or a comma-separated string, stored comma-separated.
fn allowed_groups(value: &Value) -> Result<String, ApiError> {
    let groups: Vec<String> = match value {
        Value::Null => Vec::new(),
        Value::String(list) => split_list(list).into_iter().map(str::to_string).collect(),
        Value::Array(items) => items
            .iter()
            .map(|item| {
                item.as_str()
                    .map(str::trim)
                    .filter(|g| !g.is_empty() && !g.contains(','))
                    .map(str::to_string)
                    .ok_or_else(|| {
                        ApiError::invalid(format!("allowed_groups: {item} is no group name"))
                    })
            })
            .collect::<Result<_, _>>()?,
        other => {
            return Err(ApiError::invalid(format!(
                "allowed_groups must be a list of group names, not {other}"
            )));
        }
    };
    if groups.len() > MAX_GROUPS || groups.iter().any(|g| g.len() > 64) {
        return Err(ApiError::invalid(format!(
            "allowed_groups: at most {MAX_GROUPS} names of at most 64 characters"
        )));
    }
    let mut unique: Vec<String> = Vec::with_capacity(groups.len());
    for group in groups {
        if !unique.contains(&group) {
            unique.push(group);
        }
    }
    Ok(unique.join(","))
}

fn checked_members(members: &[MemberInput]) -> Result<Vec<MemberFields>, ApiError> {
    if members.len() > MAX_MEMBERS {
        return Err(ApiError::invalid(format!(
            "A user channel has at most {MAX_MEMBERS} members"
        )));
    }
    let mut checked: Vec<MemberFields> = Vec::with_capacity(members.len());
    for member in members {
        if member.channel_id <= 0 {
            return Err(ApiError::invalid(format!(
                "members: {} is no channel id",
                member.channel_id
            )));
        }
        if !(0..=MAX_WEIGHT).contains(&member.weight) {
            return Err(ApiError::invalid(format!(
                "members: the weight of channel {} must be 0 to {MAX_WEIGHT}",
                member.channel_id
            )));
        }
        if checked.iter().any(|m| m.channel_id == member.channel_id) {
            return Err(ApiError::invalid(format!(
                "members: channel {} is listed twice",
                member.channel_id
            )));
        }
        checked.push(MemberFields {
            channel_id: member.channel_id,
            priority: member.priority,
            weight: member.weight,
        });
    }
    Ok(checked)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn input(value: Value) -> UserChannelInput {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn creation_fills_defaults_and_checks_every_field() {
        let fields = input(json!({"name": " Fast ", "multiplier": 1.2,
            "allowed_groups": ["vip", "default", "vip"],
            "members": [{"channel_id": 3, "priority": 5}]}))
        .for_create()
        .unwrap();
        assert_eq!(fields.name, "Fast");
        assert_eq!(fields.multiplier, "1.2");
        assert_eq!(fields.algorithm, "priority");
        assert_eq!(fields.allowed_groups, "vip,default");
        assert_eq!(fields.members[0].weight, 1);
        for bad in [
            json!({}),
            json!({"name": ""}),
            json!({"name": "a", "multiplier": 0}),
            json!({"name": "a", "multiplier": -2}),
            json!({"name": "a", "multiplier": "x"}),
            json!({"name": "a", "algorithm": "random"}),
            json!({"name": "a", "status": 3}),
            json!({"name": "a", "allowed_groups": 5}),
            json!({"name": "a", "members": [{"channel_id": 0}]}),
            json!({"name": "a", "members": [{"channel_id": 1, "weight": -1}]}),
            json!({"name": "a", "members": [{"channel_id": 1}, {"channel_id": 1}]}),
        ] {
            assert!(input(bad.clone()).for_create().is_err(), "{bad} accepted");
        }
        assert!(serde_json::from_value::<UserChannelInput>(json!({"nme": "a"})).is_err());
    }
}
