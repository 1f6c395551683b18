//! Merging the configuration layers. The defaults file doubles as the schema: a key it lacks is
//! unknown, and a value must have the type of the default it replaces. All violations are
//! collected before reporting, so one start shows every mistake.

use super::DEFAULTS_TOML;
use std::fmt;
use std::path::Path;
use toml::{Table, Value};

/// Everything wrong with a configuration, one line each.
#[derive(Debug)]
pub struct ConfigError(pub Vec<String>);

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "invalid configuration ({} problem(s)):", self.0.len())?;
        for line in &self.0 {
            writeln!(f, "  - {line}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigError {}

const ENV_PREFIX: &str = "PYLON__";

/// Defaults, overlaid by `file`, overlaid by the `PYLON__SECTION__KEY` variables in `env`.
pub(super) fn merge(
    file: Option<&Path>,
    env: impl IntoIterator<Item = (String, String)>,
) -> Result<Value, ConfigError> {
    let defaults: Table = DEFAULTS_TOML
        .parse()
        .map_err(|e| ConfigError(vec![format!("built-in defaults: {e}")]))?;
    let mut merged = defaults.clone();
    let mut problems = Vec::new();

    if let Some(path) = file {
        match std::fs::read_to_string(path) {
            Ok(text) => match text.parse::<Table>() {
                Ok(overrides) => overlay(
                    &mut merged,
                    &defaults,
                    overrides,
                    &path.display().to_string(),
                    "",
                    &mut problems,
                ),
                Err(e) => problems.push(format!("{}: {e}", path.display())),
            },
            Err(e) => problems.push(format!("{}: {e}", path.display())),
        }
    }

    let mut vars: Vec<(String, String)> = env
        .into_iter()
        .filter(|(name, _)| name.starts_with(ENV_PREFIX))
        .collect();
    vars.sort();
    for (name, raw) in vars {
        apply_env(&mut merged, &defaults, &name, &raw, &mut problems);
    }

    if problems.is_empty() {
        Ok(Value::Table(merged))
    } else {
        Err(ConfigError(problems))
    }
}

fn overlay(
    target: &mut Table,
    schema: &Table,
    overrides: Table,
    origin: &str,
    prefix: &str,
    problems: &mut Vec<String>,
) {
    for (key, value) in overrides {
        let path = if prefix.is_empty() {
            key.clone()
        } else {
            format!("{prefix}.{key}")
        };
        let Some(default) = schema.get(&key) else {
            problems.push(format!("{origin}: unknown setting `{path}`"));
            continue;
        };
        match (default, value) {
            (Value::Table(sub_schema), Value::Table(sub_overrides)) => {
                if let Some(Value::Table(sub_target)) = target.get_mut(&key) {
                    overlay(
                        sub_target,
                        sub_schema,
                        sub_overrides,
                        origin,
                        &path,
                        problems,
                    );
                }
            }
            (default, value) => match conform(default, value) {
                Ok(value) => {
                    target.insert(key, value);
                }
                Err(found) => problems.push(format!(
                    "{origin}: `{path}` must be {}, found {found}",
                    describe(default)
                )),
            },
        }
    }
}

/// Accepts `value` where `default` stands if the types agree (an integer may stand for a float).
fn conform(default: &Value, value: Value) -> Result<Value, String> {
    match (default, value) {
        (Value::Float(_), Value::Integer(i)) => Ok(Value::Float(i as f64)),
        (Value::Array(_), Value::Array(items)) => Ok(Value::Array(items)),
        (d, v) if std::mem::discriminant(d) == std::mem::discriminant(&v) => Ok(v),
        (_, v) => Err(format!("{} `{v}`", v.type_str())),
    }
}

fn describe(default: &Value) -> &'static str {
    match default {
        Value::String(_) => "a string",
        Value::Integer(_) => "an integer",
        Value::Float(_) => "a number",
        Value::Boolean(_) => "true or false",
        Value::Array(_) => "a list",
        Value::Table(_) => "a table",
        Value::Datetime(_) => "a date-time",
    }
}

fn apply_env(
    target: &mut Table,
    schema: &Table,
    name: &str,
    raw: &str,
    problems: &mut Vec<String>,
) {
    let path: Vec<String> = name[ENV_PREFIX.len()..]
        .split("__")
        .map(str::to_ascii_lowercase)
        .collect();
    let [section, key] = path.as_slice() else {
        problems.push(format!(
            "environment: `{name}` is not of the form PYLON__SECTION__KEY"
        ));
        return;
    };
    let Some(default) = schema
        .get(section)
        .and_then(Value::as_table)
        .and_then(|t| t.get(key))
    else {
        problems.push(format!(
            "environment: `{name}` names unknown setting `{section}.{key}`"
        ));
        return;
    };
    match parse_env_value(default, raw) {
        Some(value) => {
            if let Some(Value::Table(section_table)) = target.get_mut(section) {
                section_table.insert(key.clone(), value);
            }
        }
        None => problems.push(format!(
            "environment: `{name}` must be {}, found `{raw}`",
            describe(default)
        )),
    }
}

/// Environment values are text; read them as the type of the default they replace.
fn parse_env_value(default: &Value, raw: &str) -> Option<Value> {
    match default {
        Value::String(_) => Some(Value::String(raw.to_string())),
        Value::Integer(_) => raw.trim().parse().ok().map(Value::Integer),
        Value::Float(_) => raw.trim().parse().ok().map(Value::Float),
        Value::Boolean(_) => match raw.trim().to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" | "on" => Some(Value::Boolean(true)),
            "false" | "0" | "no" | "off" => Some(Value::Boolean(false)),
            _ => None,
        },
        Value::Array(_) => {
            let trimmed = raw.trim();
            if trimmed.starts_with('[') {
                format!("v = {trimmed}")
                    .parse::<Table>()
                    .ok()
                    .and_then(|mut t| t.remove("v"))
                    .filter(Value::is_array)
            } else {
                Some(Value::Array(
                    trimmed
                        .split(',')
                        .map(str::trim)
                        .filter(|s| !s.is_empty())
                        .map(|s| Value::String(s.to_string()))
                        .collect(),
                ))
            }
        }
        Value::Table(_) | Value::Datetime(_) => None,
    }
}
