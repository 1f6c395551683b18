//! The query parameters of the channel lists, read as new-api reads them: unparsable values
//! fall back to defaults instead of failing the request.

use pylon_shared::db::{ChannelFilter, ChannelOrder, ChannelSort, StatusFilter};
use std::collections::HashMap;

/// Items per page when the request names none (new-api's `ItemsPerPage`).
const DEFAULT_PAGE_SIZE: i64 = 10;
/// The largest page new-api serves.
const MAX_PAGE_SIZE: i64 = 100;
/// Pages beyond this are clamped, so that the offset cannot overflow.
const MAX_PAGE: i64 = 1_000_000;

/// The query string of a list request.
pub type Params = HashMap<String, String>;

/// A page: `p` counts from 1; `page_size` (or `ps`, `size`) is 1..=100, 10 by default.
#[derive(Debug, Clone, Copy)]
pub struct Page {
    pub number: i64,
    pub size: i64,
}

impl Page {
    pub fn from_params(params: &Params) -> Self {
        let number = int(params, "p").unwrap_or(1).clamp(1, MAX_PAGE);
        let size = ["page_size", "ps", "size"]
            .iter()
            .filter_map(|name| int(params, name))
            .find(|size| *size != 0)
            .unwrap_or(DEFAULT_PAGE_SIZE);
        let size = if size < 1 { DEFAULT_PAGE_SIZE } else { size };
        Self {
            number,
            size: size.min(MAX_PAGE_SIZE),
        }
    }

    /// Rows before this page.
    pub fn offset(self) -> i64 {
        (self.number - 1) * self.size
    }
}

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
    fn pages_default_and_clamp() {
        let page = Page::from_params(&params(&[]));
        assert_eq!((page.number, page.size, page.offset()), (1, 10, 0));
        let page = Page::from_params(&params(&[("p", "3"), ("page_size", "500")]));
        assert_eq!((page.number, page.size, page.offset()), (3, 100, 200));
        let page = Page::from_params(&params(&[("p", "-2"), ("page_size", "x"), ("ps", "5")]));
        assert_eq!((page.number, page.size), (1, 5));
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
