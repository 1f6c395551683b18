//! `GET /api/token/search?keyword=&token=&p=&page_size=`: the caller's keys whose name matches
//! `keyword` and whose key matches `token`, newest first, masked, paginated.
//!
//! Both take new-api's patterns: without `%` an exact match, otherwise at most two
//! non-adjacent `%` wildcards and at least two other characters. Since only a key's hash and
//! an encrypted copy are stored, `token` is matched in two ways: an exact key through its hash
//! (an index lookup), and a wildcard pattern by decrypting the caller's own keys (bounded by the
//! `MaxUserTokens` limit, beyond which new-api too allows exact searches only).

use super::{full_key, max_user_tokens, view, wire_key};
use crate::app::AppState;
use crate::auth::AuthUser;
use crate::envelope;
use crate::error::{ApiError, ApiResult};
use crate::pagination::Page;
use axum::extract::{Query, State};
use pylon_shared::db::TokenFilter;
use pylon_shared::keys::{self, KEY_PREFIX};
use serde::Deserialize;

/// new-api's cap on one page of search results.
const MAX_SEARCH_PAGE: i64 = 100;

#[derive(Deserialize)]
pub struct SearchQuery {
    keyword: Option<String>,
    token: Option<String>,
}

pub async fn search(
    State(app): State<AppState>,
    AuthUser { user }: AuthUser,
    mut page: Page,
    Query(query): Query<SearchQuery>,
) -> ApiResult {
    page.size = page.size.min(MAX_SEARCH_PAGE);
    let keyword = query.keyword.unwrap_or_default();
    let token = query.token.unwrap_or_default();
    let token = token.strip_prefix(KEY_PREFIX).unwrap_or(&token);

    if keyword.contains('%') || token.contains('%') {
        let max = max_user_tokens(&app).await?;
        if app.db.count_user_tokens(user.id).await? > max {
            return Err(ApiError::invalid(
                "Too many tokens for a fuzzy search: search for an exact value, without %",
            ));
        }
    }
    let name_like = match keyword.as_str() {
        "" => None,
        k => Some(like_pattern(k)?),
    };

    if token.contains('%') {
        check_wildcards(token)?;
        let filter = TokenFilter {
            name_like: name_like.as_deref(),
            key_hash: None,
        };
        let (candidates, _) = app.db.search_user_tokens(user.id, filter, 0, None).await?;
        let matching: Vec<_> = candidates
            .iter()
            .filter(|t| full_key(&app, t).is_some_and(|k| wildcard_match(token, wire_key(&k))))
            .collect();
        let total = i64::try_from(matching.len()).unwrap_or(i64::MAX);
        let items = matching
            .into_iter()
            .skip(usize::try_from(page.offset()).unwrap_or(usize::MAX))
            .take(usize::try_from(page.size).unwrap_or(0))
            .map(|t| view(&app, t))
            .collect();
        return Ok(envelope::ok(page.body(items, total)));
    }

    let key_hash = (!token.is_empty()).then(|| keys::lookup_hash(token));
    let filter = TokenFilter {
        name_like: name_like.as_deref(),
        key_hash: key_hash.as_deref(),
    };
    let (tokens, total) = app
        .db
        .search_user_tokens(user.id, filter, page.offset(), Some(page.size))
        .await?;
    let items = tokens.iter().map(|t| view(&app, t)).collect();
    Ok(envelope::ok(page.body(items, total)))
}

/// new-api's limits on a search pattern.
fn check_wildcards(input: &str) -> Result<(), ApiError> {
    if input.contains("%%") {
        return Err(ApiError::invalid(
            "Consecutive % wildcards are not allowed in a search pattern",
        ));
    }
    let wildcards = input.matches('%').count();
    if wildcards > 2 {
        return Err(ApiError::invalid(
            "At most 2 % wildcards are allowed in a search pattern",
        ));
    }
    if wildcards > 0 && input.chars().filter(|c| *c != '%').count() < 2 {
        return Err(ApiError::invalid(
            "A fuzzy search needs at least 2 characters besides %",
        ));
    }
    Ok(())
}

/// The `LIKE` pattern (escape character `!`) for a checked search pattern: `_` and `!` match
/// themselves, `%` stays a wildcard.
fn like_pattern(input: &str) -> Result<String, ApiError> {
    check_wildcards(input)?;
    Ok(input.replace('!', "!!").replace('_', "!_"))
}

/// `LIKE` semantics with `%` as the only wildcard, for keys that exist only decrypted.
fn wildcard_match(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split('%').collect();
    match parts.as_slice() {
        [first, middles @ .., last] => {
            let Some(mut remaining) = text.strip_prefix(first) else {
                return false;
            };
            // Taking each middle part at its leftmost place leaves the most room for the rest.
            for middle in middles {
                match remaining.find(middle) {
                    Some(at) => remaining = &remaining[at + middle.len()..],
                    None => return false,
                }
            }
            remaining.ends_with(last)
        }
        _ => pattern == text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_follow_new_api_rules() {
        assert_eq!(like_pattern("my_key!").ok().as_deref(), Some("my!_key!!"));
        assert_eq!(like_pattern("%ab%").ok().as_deref(), Some("%ab%"));
        assert!(like_pattern("%%ab").is_err());
        assert!(like_pattern("%a%b%").is_err());
        assert!(like_pattern("%a").is_err());
        assert!(like_pattern("a").is_ok());
    }

    #[test]
    fn wildcards_match_like_sql() {
        assert!(wildcard_match("abc", "abc"));
        assert!(!wildcard_match("abc", "abcd"));
        assert!(wildcard_match("ab%", "abcd"));
        assert!(wildcard_match("%cd", "abcd"));
        assert!(wildcard_match("%bc%", "abcd"));
        assert!(wildcard_match("a%d", "abcd"));
        assert!(!wildcard_match("ab%b", "ab"));
        assert!(!wildcard_match("a%a", "a"));
        assert!(!wildcard_match("%x%", "abcd"));
    }
}
