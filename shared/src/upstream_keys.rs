//! A channel's upstream keys (the key pool): how its `keys` text splits into keys, the
//! fingerprint their per-key state is stored under (so that the state follows the key when the
//! list is edited or reordered), how a key is shown without revealing it, and the per-key
//! statuses (new-api's multi-key channels: `multi_key_status_list`). The proxy and the control
//! plane both read keys through [`split`], so that an index means the same key to both.

use crate::crypto::sha256_hex;
use crate::db::KeyStateRow;
use crate::llm::ChannelType;

/// A key in use.
pub const KEY_ENABLED: i64 = 1;
/// A key an administrator disabled.
pub const KEY_MANUALLY_DISABLED: i64 = 2;
/// A key disabled because its upstream refused it.
pub const KEY_AUTO_DISABLED: i64 = 3;

/// The keys of a channel of type `kind`, in order: one per line, trimmed, empty lines skipped;
/// a Vertex AI service account (a JSON object, pretty-printed over several lines) is one key.
pub fn split(kind: i64, keys: &str) -> Vec<&str> {
    if kind == ChannelType::VertexAi.number() && keys.trim_start().starts_with('{') {
        let whole = keys.trim();
        return if whole.is_empty() {
            vec![]
        } else {
            vec![whole]
        };
    }
    keys.lines()
        .map(str::trim)
        .filter(|key| !key.is_empty())
        .collect()
}

/// One key of a channel with its stored state.
#[derive(Debug, Clone)]
pub struct PoolKey<'a> {
    /// Its place in the channel's list (new-api's `key_index`).
    pub index: usize,
    pub key: &'a str,
    /// Its fingerprint.
    pub hash: String,
    state: Option<&'a KeyStateRow>,
}

impl PoolKey<'_> {
    /// 1 enabled, 2 disabled by an administrator, 3 disabled automatically.
    pub fn status(&self) -> i64 {
        self.state.map_or(KEY_ENABLED, |s| s.status)
    }

    /// Why it is disabled ("" when enabled).
    pub fn reason(&self) -> &str {
        match self.state {
            Some(state) if state.status != KEY_ENABLED => &state.disabled_reason,
            _ => "",
        }
    }

    /// When it was disabled (0 when enabled).
    pub fn disabled_time(&self) -> i64 {
        match self.state {
            Some(state) if state.status != KEY_ENABLED => state.disabled_time,
            _ => 0,
        }
    }

    /// Its last known balance in millionths of a US dollar, and when it was read; `None` if it
    /// never was.
    pub fn balance(&self) -> Option<(i64, i64)> {
        self.state
            .filter(|s| s.balance_updated_time > 0)
            .map(|s| (s.balance_micros, s.balance_updated_time))
    }
}

/// The keys of channel `channel_id` (type `kind`, key text `keys`) with their state among
/// `states` (which may hold other channels' too), in order.
pub fn pool<'a>(
    channel_id: i64,
    kind: i64,
    keys: &'a str,
    states: &'a [KeyStateRow],
) -> Vec<PoolKey<'a>> {
    split(kind, keys)
        .into_iter()
        .enumerate()
        .map(|(index, key)| {
            let hash = fingerprint(key);
            let state = states
                .iter()
                .find(|s| s.channel_id == channel_id && s.key_hash == hash);
            PoolKey {
                index,
                key,
                hash,
                state,
            }
        })
        .collect()
}

/// What a key's state is stored under: the SHA-256 of the key, in hex.
pub fn fingerprint(key: &str) -> String {
    sha256_hex(key.as_bytes())
}

/// A key as lists show it: its first 10 characters and `...` (new-api's `key_preview`); a key
/// of 14 characters or fewer shows only its first 4, so that no key is ever shown whole.
pub fn preview(key: &str) -> String {
    let chars: Vec<char> = key.chars().collect();
    let shown = if chars.len() > 14 { 10 } else { 4 };
    let head: String = chars.iter().take(shown.min(chars.len())).collect();
    format!("{head}...")
}

/// A key masked for exports: its first 4 and last 4 characters around asterisks (a key of 12
/// characters or fewer shows only its first 2).
pub fn mask(key: &str) -> String {
    let chars: Vec<char> = key.chars().collect();
    if chars.len() <= 12 {
        let head: String = chars.iter().take(2).collect();
        return format!("{head}**********");
    }
    let head: String = chars.iter().take(4).collect();
    let tail: String = chars.iter().skip(chars.len() - 4).collect();
    format!("{head}**********{tail}")
}

/// A balance in millionths of a US dollar as the US dollars new-api's `balance` fields show (a
/// JSON number: the nearest double to the exact amount).
pub fn micros_usd(micros: i64) -> f64 {
    micros_text(micros).parse().unwrap_or(0.0)
}

/// A balance in millionths of a US dollar as exact decimal text (`74.5`, `-0.000001`).
pub fn micros_text(micros: i64) -> String {
    let sign = if micros < 0 { "-" } else { "" };
    let abs = micros.unsigned_abs();
    let (whole, fraction) = (abs / 1_000_000, abs % 1_000_000);
    if fraction == 0 {
        return format!("{sign}{whole}");
    }
    let fraction = format!("{fraction:06}");
    format!("{sign}{whole}.{}", fraction.trim_end_matches('0'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_lines_and_keeps_a_service_account_whole() {
        assert_eq!(split(1, " a \n\n b\r\nc\n"), vec!["a", "b", "c"]);
        assert_eq!(split(1, ""), Vec::<&str>::new());
        let account = "{\n  \"type\": \"service_account\"\n}";
        assert_eq!(
            split(ChannelType::VertexAi.number(), account),
            vec![account]
        );
        assert_eq!(
            split(ChannelType::VertexAi.number(), "k1\nk2"),
            vec!["k1", "k2"]
        );
    }

    #[test]
    fn never_shows_a_key_whole() {
        assert_eq!(preview("sk-abcdefghijklmnop"), "sk-abcdefg...");
        assert_eq!(preview("short"), "shor...");
        assert_eq!(preview("ab"), "ab...");
        assert_eq!(mask("sk-abcdefghijklmnop"), "sk-a**********mnop");
        assert_eq!(mask("tiny-key"), "ti**********");
    }

    #[test]
    fn balances_are_exact_decimals() {
        assert_eq!(micros_text(74_500_000), "74.5");
        assert_eq!(micros_text(0), "0");
        assert_eq!(micros_text(-1), "-0.000001");
        assert_eq!(micros_text(5_000_001), "5.000001");
    }
}
