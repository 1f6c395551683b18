//! How long a stored text may be, read from the schema itself (the MySQL migrations, whose
//! column types are the strictest): `VARCHAR(n)` holds n characters, `TEXT` 65 535 bytes,
//! `MEDIUMTEXT` 16 MiB. Every write of user input checks its values here first, so that an
//! over-long value is refused with the column's name on both backends (SQLite would store it,
//! MySQL would fail the statement) and nothing is written.

use super::DbError;
use std::collections::HashMap;
use std::sync::LazyLock;

/// The most a column holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    /// Characters (`VARCHAR(n)`).
    Chars(usize),
    /// Bytes of UTF-8 (`TEXT` and its kin).
    Bytes(usize),
}

impl Limit {
    fn allows(self, value: &str) -> bool {
        match self {
            Limit::Chars(max) => value.len() <= max || value.chars().count() <= max,
            Limit::Bytes(max) => value.len() <= max,
        }
    }

    /// The limit as a user reads it.
    fn describe(self) -> String {
        match self {
            Limit::Chars(max) => format!("at most {max} characters"),
            Limit::Bytes(max) => format!("at most {max} bytes"),
        }
    }
}

/// (table, column) -> limit, for every text column of the schema.
static LIMITS: LazyLock<HashMap<(String, String), Limit>> = LazyLock::new(|| {
    let mut limits = HashMap::new();
    for migration in super::migrate::mysql_migrations() {
        read_schema(migration, &mut limits);
    }
    limits
});

/// The limit of `table.column`, if it is a text column of the schema.
pub fn limit_of(table: &str, column: &str) -> Option<Limit> {
    LIMITS
        .get(&(table.to_string(), column.to_string()))
        .copied()
}

/// Refuses the first of `values` (column, value) of `table` that its column cannot hold.
pub fn check_lengths(table: &str, values: &[(&str, &str)]) -> Result<(), DbError> {
    for (column, value) in values {
        if let Some(limit) = limit_of(table, column)
            && !limit.allows(value)
        {
            return Err(DbError::TooLong {
                field: (*column).to_string(),
                limit: limit.describe(),
            });
        }
    }
    Ok(())
}

/// Adds the text columns of `CREATE TABLE` and `ALTER TABLE ... ADD COLUMN` statements.
fn read_schema(sql: &str, limits: &mut HashMap<(String, String), Limit>) {
    let mut table: Option<String> = None;
    for line in sql.lines().map(str::trim) {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["CREATE", "TABLE", name, ..] => table = Some(unquote(name)),
            ["ALTER", "TABLE", name, "ADD", "COLUMN", column, kind, ..] => {
                if let Some(limit) = limit_of_type(kind) {
                    limits.insert((unquote(name), unquote(column)), limit);
                }
            }
            [first, ..] if first.starts_with(')') => table = None,
            [column, kind, ..] => {
                if let (Some(table), Some(limit)) = (&table, limit_of_type(kind)) {
                    limits.insert((table.clone(), unquote(column)), limit);
                }
            }
            _ => {}
        }
    }
}

fn limit_of_type(kind: &str) -> Option<Limit> {
    let kind = kind.trim_end_matches(',').to_ascii_uppercase();
    if let Some(size) = kind
        .strip_prefix("VARCHAR(")
        .and_then(|rest| rest.strip_suffix(')'))
    {
        return size.parse().ok().map(Limit::Chars);
    }
    match kind.as_str() {
        "TINYTEXT" => Some(Limit::Bytes(255)),
        "TEXT" => Some(Limit::Bytes(65_535)),
        "MEDIUMTEXT" => Some(Limit::Bytes(16_777_215)),
        _ => None,
    }
}

fn unquote(name: &str) -> String {
    name.trim_matches(|c| c == '`' || c == '(' || c == ',')
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_come_from_the_schema() {
        assert_eq!(limit_of("tokens", "name"), Some(Limit::Chars(255)));
        assert_eq!(
            limit_of("tokens", "model_limits"),
            Some(Limit::Bytes(65_535))
        );
        assert_eq!(limit_of("users", "username"), Some(Limit::Chars(64)));
        assert_eq!(limit_of("abilities", "group"), Some(Limit::Chars(64)));
        assert_eq!(limit_of("options", "key"), Some(Limit::Chars(128)));
        assert_eq!(limit_of("tokens", "remain_quota"), None);
        assert!(check_lengths("tokens", &[("name", &"é".repeat(255))]).is_ok());
        let refused = check_lengths(
            "tokens",
            &[("name", "ok"), ("model_limits", &"m".repeat(70_000))],
        );
        assert!(
            matches!(&refused, Err(DbError::TooLong { field, .. }) if field == "model_limits"),
            "{refused:?}"
        );
    }
}
