//! new-api's list pagination: `p` (1-based; 0 reads as 1) and `page_size` (or `size`, which
//! new-api's console sends), lenient like new-api, and the paginated `data` it answers.

use serde::Deserialize;
use serde_json::{Value, json};

const DEFAULT_PAGE_SIZE: i64 = 10;
const MAX_PAGE_SIZE: i64 = 100;

/// The pagination parameters of a list request.
#[derive(Debug, Default, Deserialize)]
pub struct PageQuery {
    p: Option<String>,
    page_size: Option<String>,
    size: Option<String>,
}

/// A page of a list: 1-based page number and its size.
#[derive(Debug, Clone, Copy)]
pub struct Page {
    pub page: i64,
    pub size: i64,
}

impl Page {
    /// A missing or unreadable number takes its default; sizes are capped.
    pub fn from_query(query: &PageQuery) -> Self {
        let number = |v: &Option<String>| v.as_deref().and_then(|s| s.trim().parse::<i64>().ok());
        let page = number(&query.p).unwrap_or(1).max(1);
        let size = number(&query.page_size)
            .or_else(|| number(&query.size))
            .filter(|s| *s > 0)
            .unwrap_or(DEFAULT_PAGE_SIZE)
            .min(MAX_PAGE_SIZE);
        Self { page, size }
    }

    /// Rows to skip.
    pub fn offset(self) -> i64 {
        (self.page - 1).saturating_mul(self.size)
    }

    /// new-api's paginated `data`.
    pub fn body(self, items: Vec<Value>, total: i64) -> Value {
        json!({ "items": items, "total": total, "page": self.page, "page_size": self.size })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(p: Option<&str>, page_size: Option<&str>, size: Option<&str>) -> (i64, i64) {
        let q = PageQuery {
            p: p.map(Into::into),
            page_size: page_size.map(Into::into),
            size: size.map(Into::into),
        };
        let page = Page::from_query(&q);
        (page.page, page.size)
    }

    #[test]
    fn pages_default_and_clamp() {
        assert_eq!(page(None, None, None), (1, 10));
        assert_eq!(page(Some("0"), Some("5"), None), (1, 5));
        assert_eq!(page(Some("3"), None, Some("20")), (3, 20));
        assert_eq!(page(Some("x"), Some("1000"), None), (1, 100));
        assert_eq!(page(Some("-2"), Some("-1"), None), (1, 10));
    }
}
