//! The model-list algebra of upstream model updates, as new-api computes it: names are trimmed,
//! empty ones dropped and repeats removed (first occurrence kept); what an upstream adds and
//! removes against a channel's list; and a chosen set of changes applied to that list.

use regex::Regex;
use std::collections::{BTreeMap, HashSet};

/// `models` trimmed, without empty names or repeats, in their first order.
pub fn normalize<S: AsRef<str>>(models: &[S]) -> Vec<String> {
    let mut seen = HashSet::new();
    models
        .iter()
        .map(|m| m.as_ref().trim())
        .filter(|m| !m.is_empty() && seen.insert(*m))
        .map(str::to_string)
        .collect()
}

/// `base` followed by the names of `appended` it lacks.
pub fn merge(base: &[String], appended: &[String]) -> Vec<String> {
    let mut merged = normalize(base);
    let mut seen: HashSet<String> = merged.iter().cloned().collect();
    for model in normalize(appended) {
        if seen.insert(model.clone()) {
            merged.push(model);
        }
    }
    merged
}

/// `base` without the names of `removed`.
pub fn subtract(base: &[String], removed: &[String]) -> Vec<String> {
    let removed: HashSet<String> = normalize(removed).into_iter().collect();
    normalize(base)
        .into_iter()
        .filter(|m| !removed.contains(m))
        .collect()
}

/// The names of `base` that `allowed` also holds, in `base`'s order.
pub fn intersect(base: &[String], allowed: &[String]) -> Vec<String> {
    let allowed: HashSet<String> = normalize(allowed).into_iter().collect();
    normalize(base)
        .into_iter()
        .filter(|m| allowed.contains(m))
        .collect()
}

/// Whether an ignore rule (a name, or `regex:<pattern>`) matches `model`.
fn ignored_by(rule: &str, model: &str) -> bool {
    match rule.strip_prefix("regex:") {
        Some(pattern) => Regex::new(pattern.trim()).is_ok_and(|re| re.is_match(model)),
        None => rule == model,
    }
}

/// What `upstream` lists that the channel lacks (neither served nor the target of one of its
/// `mapping`'s renames, nor ignored) and what the channel serves that `upstream` no longer lists
/// (but for the aliases `mapping` renames, which the upstream never lists).
pub fn pending(
    local: &[String],
    upstream: &[String],
    ignored: &[String],
    mapping: &BTreeMap<String, String>,
) -> (Vec<String>, Vec<String>) {
    let local = normalize(local);
    let upstream = normalize(upstream);
    let ignored = normalize(ignored);
    let covered: HashSet<&str> = local
        .iter()
        .map(String::as_str)
        .chain(mapping.values().map(String::as_str))
        .collect();
    let add = upstream
        .iter()
        .filter(|m| !covered.contains(m.as_str()))
        .filter(|m| !ignored.iter().any(|rule| ignored_by(rule, m)))
        .cloned()
        .collect();
    let listed: HashSet<&str> = upstream.iter().map(String::as_str).collect();
    let remove = local
        .iter()
        .filter(|m| !mapping.contains_key(m.as_str()) && !listed.contains(m.as_str()))
        .cloned()
        .collect();
    (add, remove)
}

/// `origin` with `add` appended and `remove` taken out; a name in both is added.
pub fn apply_selected(origin: &[String], add: &[String], remove: &[String]) -> Vec<String> {
    let add = normalize(add);
    let remove = subtract(remove, &add);
    subtract(&merge(origin, &add), &remove)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn names_are_normalized() {
        assert_eq!(
            normalize(&[" a", "b", "", "a ", "c"]),
            names(&["a", "b", "c"])
        );
        assert_eq!(
            merge(&names(&["a"]), &names(&["b", "a"])),
            names(&["a", "b"])
        );
        assert_eq!(subtract(&names(&["a", "b"]), &names(&["a"])), names(&["b"]));
        assert_eq!(
            intersect(&names(&["c", "a", "b"]), &names(&["b", "c"])),
            names(&["c", "b"])
        );
    }

    #[test]
    fn pending_changes_respect_aliases_and_ignore_rules() {
        let mapping: BTreeMap<String, String> = [("alias".to_string(), "up-1".to_string())]
            .into_iter()
            .collect();
        let (add, remove) = pending(
            &names(&["m-1", "alias", "gone"]),
            &names(&["m-1", "up-1", "new-1", "new-2", "beta-x"]),
            &names(&["new-2", "regex:^beta-"]),
            &mapping,
        );
        assert_eq!(add, names(&["new-1"]), "up-1 is served through alias");
        assert_eq!(remove, names(&["gone"]), "alias is the channel's own name");
    }

    #[test]
    fn selected_changes_are_applied_and_add_wins() {
        let next = apply_selected(
            &names(&["a", "b", "c"]),
            &names(&["d", "b"]),
            &names(&["c", "d"]),
        );
        assert_eq!(next, names(&["a", "b", "d"]));
    }
}
