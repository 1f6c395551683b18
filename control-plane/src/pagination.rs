//! new-api's list pagination, the one page type of every list: `p` (1-based; missing, 0,
//! negative or unreadable reads as 1, leniently like new-api; seed 004 spells it `page`) and
//! `page_size` (or `ps` or `size`, which new-api's consoles send, or seed 004's `pageSize`,
//! which its document also misspells `pageSIze`; 10 by default, at most 100). A page number so
//! large that its offset does not fit in 64 bits is refused, never wrapped or clamped.

use crate::error::ApiError;
use axum::extract::{FromRequestParts, Query};
use axum::http::request::Parts;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

const DEFAULT_PAGE_SIZE: i64 = 10;
const MAX_PAGE_SIZE: i64 = 100;

/// The pagination parameters of a list request (other parameters are ignored).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct PageQuery {
    p: Option<String>,
    page: Option<String>,
    page_size: Option<String>,
    ps: Option<String>,
    size: Option<String>,
    #[serde(rename = "pageSize", alias = "pageSIze")]
    page_size_camel: Option<String>,
}

/// A page of a list: 1-based page number and its size. Extracted from the query string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    pub page: i64,
    pub size: i64,
}

impl Page {
    /// The page of the query, or the last page whose offset fits when the number is too large.
    /// Only for the modules not yet on the extractor (`routes/{topup,redemption}/list.rs`):
    /// take `page: Page` instead, which refuses such numbers.
    pub fn from_query(query: &PageQuery) -> Self {
        Self::read(query).unwrap_or_else(|_| {
            let size = Self::read(&PageQuery {
                p: None,
                page: None,
                ..query.clone()
            })
            .map_or(DEFAULT_PAGE_SIZE, |page| page.size);
            Self {
                page: i64::MAX / size,
                size,
            }
        })
    }

    /// Reads the parameters; see the module documentation for the rules.
    pub fn read(query: &PageQuery) -> Result<Self, ApiError> {
        let size = [
            &query.page_size,
            &query.ps,
            &query.size,
            &query.page_size_camel,
        ]
        .into_iter()
        .filter_map(|value| number(value.as_ref()).and_then(Result::ok))
        .find(|size| *size != 0)
        .filter(|size| *size > 0)
        .unwrap_or(DEFAULT_PAGE_SIZE)
        .min(MAX_PAGE_SIZE);
        let page = match number(query.p.as_ref().or(query.page.as_ref())) {
            None => 1,
            Some(Ok(page)) => page.max(1),
            Some(Err(())) => return Err(too_large()),
        };
        if (page - 1).checked_mul(size).is_none() {
            return Err(too_large());
        }
        Ok(Self { page, size })
    }

    /// Rows to skip (cannot overflow: checked when the page was read).
    pub fn offset(self) -> i64 {
        (self.page - 1).saturating_mul(self.size)
    }

    /// new-api's paginated `data`.
    pub fn body<T: Serialize>(self, items: Vec<T>, total: i64) -> Value {
        json!({ "items": items, "total": total, "page": self.page, "page_size": self.size })
    }
}

/// An integer parameter: `None` when missing or not an integer (new-api reads those as 0),
/// `Err` when it is an integer beyond 64 bits.
fn number(value: Option<&String>) -> Option<Result<i64, ()>> {
    let text = value?.trim();
    let digits = text.strip_prefix(['-', '+']).unwrap_or(text);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(text.parse::<i64>().map_err(|_| ()))
}

fn too_large() -> ApiError {
    ApiError::invalid("Invalid parameters: page number p is too large")
}

impl<S: Send + Sync> FromRequestParts<S> for Page {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        let Query(query) = Query::<PageQuery>::try_from_uri(&parts.uri)
            .map_err(|e| ApiError::invalid(format!("Invalid parameters: {e}")))?;
        Self::read(&query)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(p: Option<&str>, page_size: Option<&str>, ps: Option<&str>) -> Result<(i64, i64), ()> {
        let q = PageQuery {
            p: p.map(Into::into),
            page_size: page_size.map(Into::into),
            ps: ps.map(Into::into),
            ..PageQuery::default()
        };
        Page::read(&q)
            .map(|page| (page.page, page.size))
            .map_err(|_| ())
    }

    #[test]
    fn pages_default_and_clamp() {
        assert_eq!(page(None, None, None), Ok((1, 10)));
        assert_eq!(page(Some("0"), Some("5"), None), Ok((1, 5)));
        assert_eq!(page(Some("3"), None, Some("20")), Ok((3, 20)));
        assert_eq!(page(Some("x"), Some("1000"), None), Ok((1, 100)));
        assert_eq!(page(Some("-2"), Some("-1"), None), Ok((1, 10)));
        assert_eq!(page(Some("2"), Some("x"), Some("5")), Ok((2, 5)));
        assert_eq!(page(Some("-99999999999999999999"), None, None), Err(()));
    }

    #[test]
    fn seed_004_spellings_are_read() {
        let q = PageQuery {
            page: Some("3".into()),
            page_size_camel: Some("20".into()),
            ..PageQuery::default()
        };
        assert_eq!(Page::read(&q).ok(), Some(Page { page: 3, size: 20 }));
        let too_far = PageQuery {
            page: Some("99999999999999999999".into()),
            ..PageQuery::default()
        };
        assert!(Page::read(&too_far).is_err());
    }

    #[test]
    fn overflowing_pages_are_refused() {
        assert_eq!(page(Some("99999999999999999999"), None, None), Err(()));
        assert_eq!(page(Some("9223372036854775807"), None, None), Err(()));
        let last = i64::MAX / 100 + 1;
        assert_eq!(
            page(Some(&last.to_string()), Some("100"), None),
            Ok((last, 100))
        );
        assert_eq!(
            page(Some(&(last + 1).to_string()), Some("100"), None),
            Err(())
        );
    }
}
