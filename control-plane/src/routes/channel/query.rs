//! The query parameters of the channel lists, read as new-api reads them: unparsable values
//! fall back to defaults instead of failing the request.

use pylon_shared::db::{ChannelFilter, ChannelOrder, ChannelSort, StatusFilter};
use std::collections::HashMap;

/// The query string of a list request.
pub type Params = HashMap<String, String>;

/// An integer parameter, if present and well formed.
pub fn int(params: &Params, name: &str) -> Option<i64> {
    params.get(name).and_then(|v| v.trim().parse().ok())
}

/// A boolean parameter as Go's `strconv.ParseBool` reads it; anything else is false.
pub fn flag(params: &Params, name: &str) -> bool {
    matches!(
        params.get(name).map(|v| v.trim()),
        Some("1" | "t" | "T" | "true" | "TRUE" | "True")
    )
}

/// `status`: `enabled`/`1` shows enabled channels, `disabled`/`0` the others, anything else all.
pub fn status(params: &Params) -> StatusFilter {
    match params.get("status").map(|v| v.trim().to_ascii_lowercase()) {
        Some(v) if v == "enabled" || v == "1" => StatusFilter::Enabled,
        Some(v) if v == "disabled" || v == "0" => StatusFilter::Disabled,
        _ => StatusFilter::All,
    }
}

/// `group`, unless empty or new-api's placeholder `null`.
pub fn group(params: &Params) -> Option<String> {
    params
        .get("group")
        .map(|g| g.trim())
        .filter(|g| !g.is_empty() && *g != "null")
        .map(str::to_string)
}

/// `type`, when it is a non-negative number.
pub fn kind(params: &Params) -> Option<i64> {
    int(params, "type").filter(|t| *t >= 0)
}

/// The list filters: `group`, `status` and `type`.
pub fn filter(params: &Params) -> ChannelFilter {
    ChannelFilter {
        group: group(params),
        status: status(params),
        r#type: kind(params),
    }
}

/// `sort_by`/`sort_order` when `sort_by` names a sortable column (descending unless
/// `sort_order=asc`); else `id_sort=true` for newest first; else highest priority first.
pub fn order(params: &Params) -> ChannelOrder {
    let sort = match params.get("sort_by").map(|v| v.trim().to_ascii_lowercase()) {
        Some(v) if v == "id" => Some(ChannelSort::Id),
        Some(v) if v == "name" => Some(ChannelSort::Name),
        Some(v) if v == "priority" => Some(ChannelSort::Priority),
        Some(v) if v == "balance" => Some(ChannelSort::Balance),
        Some(v) if v == "response_time" => Some(ChannelSort::ResponseTime),
        Some(v) if v == "test_time" => Some(ChannelSort::TestTime),
        _ => None,
    };
    match sort {
        Some(sort) => ChannelOrder {
            sort,
            descending: params
                .get("sort_order")
                .is_none_or(|o| !o.trim().eq_ignore_ascii_case("asc")),
        },
        None if flag(params, "id_sort") => ChannelOrder {
            sort: ChannelSort::Id,
            descending: true,
        },
        None => ChannelOrder::default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> Params {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn order_follows_new_api() {
        assert_eq!(order(&params(&[])), ChannelOrder::default());
        let by_id = order(&params(&[("id_sort", "true")]));
        assert_eq!((by_id.sort, by_id.descending), (ChannelSort::Id, true));
        let by_name = order(&params(&[("sort_by", "name"), ("sort_order", "asc")]));
        assert_eq!(
            (by_name.sort, by_name.descending),
            (ChannelSort::Name, false)
        );
    }
}
