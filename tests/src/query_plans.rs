//! Reading the databases' query plans as `Db::explain_logs_page` and its siblings give them
//! (SQLite's `EXPLAIN QUERY PLAN` details; MySQL's `EXPLAIN` rows as `table:type:key:extra`).

use crate::Backend;

/// Whether every step of `plan` reads through an index (never a whole-table scan).
pub fn reads_through_index(backend: Backend, plan: &[String]) -> bool {
    match backend {
        Backend::Sqlite => {
            plan.iter().all(|line| {
                !line.starts_with("SCAN logs")
                    || line.contains("USING INDEX")
                    || line.contains("COVERING INDEX")
            }) && plan.iter().any(|line| line.contains("USING"))
        }
        Backend::MySqlRedis => plan.iter().all(|line| {
            let parts: Vec<&str> = line.split(':').collect();
            parts.len() == 4 && parts[1] != "ALL" && !parts[2].is_empty()
        }),
    }
}

/// Whether `plan` sorts its rows (a temporary B-tree in SQLite, a filesort in MySQL) instead of
/// reading them in an index's order.
pub fn sorts(plan: &[String]) -> bool {
    plan.iter()
        .any(|line| line.contains("TEMP B-TREE") || line.to_lowercase().contains("filesort"))
}
