//! A provider's access policy (new-api's `access_policy`): conditions on what the provider
//! said about the person (`{"field": "org", "op": "eq", "value": "acme"}`), combined with
//! `and` / `or` and nested in groups. A sign-in the policy refuses is answered with the
//! provider's `access_denied_message`, whose `{{provider}}`, `{{field}}`, `{{op}}`,
//! `{{required}}`, `{{current}}`, `{{current.<path>}}` and `{{required.<path>}}` are filled in.

use super::claims::lookup;
use serde::Deserialize;
use serde_json::Value;
use std::cmp::Ordering;

const OPS: &[&str] = &[
    "eq",
    "ne",
    "gt",
    "gte",
    "lt",
    "lte",
    "in",
    "not_in",
    "contains",
    "not_contains",
    "exists",
    "not_exists",
];

const DEFAULT_DENIAL: &str =
    "Access denied: your account does not meet this provider's access requirements.";

/// A parsed, checked policy.
#[derive(Debug, Clone, Deserialize)]
pub struct Policy {
    #[serde(default)]
    logic: String,
    #[serde(default)]
    conditions: Vec<Condition>,
    #[serde(default)]
    groups: Vec<Policy>,
}

#[derive(Debug, Clone, Deserialize)]
struct Condition {
    #[serde(default)]
    field: String,
    #[serde(default)]
    op: String,
    #[serde(default)]
    value: Value,
}

/// The condition that decided a refusal.
#[derive(Debug, Clone, Default)]
pub struct Failure {
    field: String,
    op: String,
    expected: Value,
    current: Value,
}

impl Policy {
    /// Parses and checks `raw` (new-api's rules: `and`/`or`, at least one condition or group,
    /// known operators, an array for `in`/`not_in`).
    pub fn parse(raw: &str) -> Result<Self, String> {
        let mut policy: Policy =
            serde_json::from_str(raw).map_err(|_| "must be valid JSON".to_string())?;
        policy.check()?;
        Ok(policy)
    }

    fn check(&mut self) -> Result<(), String> {
        self.logic = self.logic.trim().to_lowercase();
        if self.logic.is_empty() {
            self.logic = "and".into();
        }
        if self.logic != "and" && self.logic != "or" {
            return Err(format!("unsupported logic: {}", self.logic));
        }
        if self.conditions.is_empty() && self.groups.is_empty() {
            return Err("policy requires at least one condition or group".into());
        }
        for (index, condition) in self.conditions.iter_mut().enumerate() {
            condition.field = condition.field.trim().to_string();
            condition.op = condition.op.trim().to_lowercase();
            if condition.field.is_empty() {
                return Err(format!("condition[{index}].field is required"));
            }
            if !OPS.contains(&condition.op.as_str()) {
                return Err(format!(
                    "condition[{index}].op is unsupported: {}",
                    condition.op
                ));
            }
            if matches!(condition.op.as_str(), "in" | "not_in") && !condition.value.is_array() {
                return Err(format!(
                    "condition[{index}].value must be an array for op {}",
                    condition.op
                ));
            }
        }
        for (index, group) in self.groups.iter_mut().enumerate() {
            group
                .check()
                .map_err(|why| format!("invalid policy group[{index}]: {why}"))?;
        }
        Ok(())
    }

    /// Whether `claims` meet the policy; the deciding condition when they do not.
    pub fn evaluate(&self, claims: &Value) -> Result<(), Failure> {
        let mut results = self
            .conditions
            .iter()
            .map(|c| c.evaluate(claims))
            .chain(self.groups.iter().map(|g| g.evaluate(claims)));
        if self.logic == "or" {
            let mut first_failure = None;
            for result in results {
                match result {
                    Ok(()) => return Ok(()),
                    Err(failure) => {
                        first_failure.get_or_insert(failure);
                    }
                }
            }
            Err(first_failure.unwrap_or_default())
        } else {
            results.try_for_each(|r| r)
        }
    }
}

impl Condition {
    fn evaluate(&self, claims: &Value) -> Result<(), Failure> {
        let found = lookup(claims, &self.field);
        let current = found.cloned().unwrap_or(Value::Null);
        let ok = match self.op.as_str() {
            "exists" => found.is_some(),
            "not_exists" => found.is_none(),
            "eq" => compare(&current, &self.value) == Ordering::Equal,
            "ne" => compare(&current, &self.value) != Ordering::Equal,
            "gt" => compare(&current, &self.value) == Ordering::Greater,
            "gte" => compare(&current, &self.value) != Ordering::Less,
            "lt" => compare(&current, &self.value) == Ordering::Less,
            "lte" => compare(&current, &self.value) != Ordering::Greater,
            "in" => in_list(&current, &self.value),
            "not_in" => !in_list(&current, &self.value),
            "contains" => contains(&current, &self.value),
            "not_contains" => !contains(&current, &self.value),
            _ => false,
        };
        if ok {
            Ok(())
        } else {
            Err(Failure {
                field: self.field.clone(),
                op: self.op.clone(),
                expected: self.value.clone(),
                current,
            })
        }
    }
}

/// Numbers (or numeric texts) compare as numbers, anything else as text (new-api's
/// `compareAny`).
fn compare(left: &Value, right: &Value) -> Ordering {
    if let (Some(l), Some(r)) = (number(left), number(right)) {
        return l.partial_cmp(&r).unwrap_or(Ordering::Equal);
    }
    shown(left).trim().cmp(shown(right).trim())
}

fn number(value: &Value) -> Option<f64> {
    match value {
        Value::Number(n) => n.as_f64(),
        Value::String(text) => text.trim().parse().ok(),
        _ => None,
    }
}

fn in_list(current: &Value, list: &Value) -> bool {
    list.as_array()
        .is_some_and(|items| items.iter().any(|item| compare(current, item).is_eq()))
}

fn contains(current: &Value, expected: &Value) -> bool {
    match current {
        Value::String(text) => text.contains(shown(expected).trim()),
        Value::Array(items) => items.iter().any(|item| compare(item, expected).is_eq()),
        _ => false,
    }
}

/// A value as Go's `fmt.Sprint` shows it (`<nil>` for nothing, text unquoted).
fn shown(value: &Value) -> std::borrow::Cow<'_, str> {
    match value {
        Value::Null => "<nil>".into(),
        Value::String(text) => text.as_str().into(),
        other => other.to_string().into(),
    }
}

/// The refusal's message: the provider's template with its placeholders filled in, or
/// new-api's default.
pub fn denial(template: &str, provider: &str, claims: &Value, failure: &Failure) -> String {
    let template = template.trim();
    if template.is_empty() {
        return DEFAULT_DENIAL.to_string();
    }
    let mut message = template
        .replace("{{provider}}", provider)
        .replace("{{field}}", &failure.field)
        .replace("{{op}}", &failure.op)
        .replace("{{required}}", &shown(&failure.expected))
        .replace("{{current}}", &shown(&failure.current));
    for (prefix, current) in [("{{current.", true), ("{{required.", false)] {
        // Scan forward only: a filled-in value (the provider's text) is never read again.
        let mut from = 0;
        while let Some(found) = message[from..].find(prefix) {
            let start = from + found;
            let rest = &message[start + prefix.len()..];
            let Some(end) = rest.find("}}") else { break };
            let path = rest[..end].trim();
            let value = if current {
                lookup(claims, path)
                    .map(super::claims::text)
                    .unwrap_or_default()
            } else if path == failure.field {
                shown(&failure.expected).into_owned()
            } else {
                String::new()
            };
            message.replace_range(start..start + prefix.len() + end + 2, &value);
            from = start + value.len();
        }
    }
    message.trim().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn policy(raw: Value) -> Policy {
        Policy::parse(&raw.to_string()).unwrap()
    }

    #[test]
    fn policies_are_checked() {
        for (raw, why) in [
            (
                json!({"logic": "xor", "conditions": [{"field": "a", "op": "eq"}]}),
                "logic",
            ),
            (json!({"logic": "and"}), "at least one"),
            (
                json!({"conditions": [{"field": " ", "op": "eq"}]}),
                "field is required",
            ),
            (
                json!({"conditions": [{"field": "a", "op": "like"}]}),
                "unsupported",
            ),
            (
                json!({"conditions": [{"field": "a", "op": "in", "value": 1}]}),
                "array",
            ),
            (json!({"groups": [{"logic": "and"}]}), "group[0]"),
        ] {
            let refused = Policy::parse(&raw.to_string()).unwrap_err();
            assert!(refused.contains(why), "{refused}");
        }
        assert!(Policy::parse("not json").is_err());
    }

    #[test]
    fn conditions_and_groups_combine() {
        let claims = json!({"org": "acme", "level": "3", "roles": ["dev", "ops"],
            "email": "a@acme.io"});
        let allow = |raw: Value| policy(raw).evaluate(&claims).is_ok();
        assert!(allow(
            json!({"conditions": [{"field": "org", "op": "eq", "value": "acme"}]})
        ));
        assert!(allow(
            json!({"conditions": [{"field": "level", "op": "gte", "value": 3}]})
        ));
        assert!(!allow(
            json!({"conditions": [{"field": "level", "op": "gt", "value": 10}]})
        ));
        assert!(allow(
            json!({"conditions": [{"field": "roles", "op": "contains", "value": "ops"}]})
        ));
        assert!(allow(
            json!({"conditions": [{"field": "email", "op": "contains", "value": "@acme"}]})
        ));
        assert!(allow(
            json!({"conditions": [{"field": "org", "op": "in", "value": ["x", "acme"]}]})
        ));
        assert!(allow(
            json!({"conditions": [{"field": "banned", "op": "not_exists"}]})
        ));
        assert!(!allow(json!({"conditions": [
            {"field": "org", "op": "eq", "value": "acme"},
            {"field": "org", "op": "eq", "value": "other"}]})));
        assert!(allow(json!({"logic": "or", "conditions": [
            {"field": "org", "op": "eq", "value": "other"}],
            "groups": [{"conditions": [{"field": "roles", "op": "contains", "value": "dev"}]}]})));
    }

    #[test]
    fn denials_fill_in_their_template() {
        let claims = json!({"org": "other", "name": "Ada"});
        let failure =
            policy(json!({"conditions": [{"field": "org", "op": "eq", "value": "acme"}]}))
                .evaluate(&claims)
                .unwrap_err();
        assert_eq!(denial("", "Corp", &claims, &failure), DEFAULT_DENIAL);
        assert_eq!(
            denial(
                "{{current.name}}: {{provider}} needs {{field}} {{op}} {{required}}, not {{current}} ({{required.org}}{{required.x}})",
                "Corp",
                &claims,
                &failure
            ),
            "Ada: Corp needs org eq acme, not other (acme)"
        );
        // A provider's value that looks like a placeholder stays as it is.
        let sneaky = json!({"org": "other", "name": "{{current.name}}"});
        assert_eq!(
            denial("{{current.name}}!", "Corp", &sneaky, &failure),
            "{{current.name}}!"
        );
    }
}
