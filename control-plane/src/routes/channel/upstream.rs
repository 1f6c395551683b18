//! Calls from the control plane to a channel's upstream: the test chat completion and the
//! OpenAI billing queries. Requests go straight to the upstream (environment proxies are
//! ignored, as the relay ignores them), with a timeout, and read at most a bounded answer.

use super::kinds;
use crate::error::ApiError;
use pylon_shared::db::{ChannelRow, split_list};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

/// How long a test or a billing query may take.
const TIMEOUT: Duration = Duration::from_secs(30);
/// At most this much of an answer is read.
const MAX_ANSWER_BYTES: usize = 1 << 20;
/// Error texts quoted from an upstream are cut to this many characters.
const MAX_QUOTED_CHARS: usize = 300;

/// What a test found.
#[derive(Debug)]
pub struct TestOutcome {
    /// The upstream answered 2xx with a chat completion.
    pub success: bool,
    /// Why it failed ("" on success).
    pub message: String,
    /// Milliseconds from sending the request to the end of the answer.
    pub elapsed_ms: i64,
    /// The upstream's HTTP status, when it answered at all.
    pub status: Option<u16>,
}

/// The HTTP client for upstream calls.
fn client() -> Result<reqwest::Client, ApiError> {
    reqwest::Client::builder()
        .timeout(TIMEOUT)
        .no_proxy()
        .build()
        .map_err(|e| ApiError::Internal(e.into()))
}

/// The first key of a channel.
fn first_key(row: &ChannelRow) -> String {
    row.keys
        .lines()
        .map(str::trim)
        .find(|k| !k.is_empty())
        .unwrap_or("")
        .to_string()
}

/// The model a test asks for: the one requested, else the channel's test model, else its
/// first model; then renamed by the channel's model mapping, as the relay would.
fn test_model(row: &ChannelRow, requested: Option<&str>) -> String {
    let model = requested
        .map(str::trim)
        .filter(|m| !m.is_empty())
        .or_else(|| Some(row.test_model.trim()).filter(|m| !m.is_empty()))
        .or_else(|| split_list(&row.models).into_iter().next())
        .unwrap_or("")
        .to_string();
    serde_json::from_str::<Value>(&row.model_mapping)
        .ok()
        .and_then(|mapping| mapping.get(&model)?.as_str().map(str::to_string))
        .filter(|mapped| !mapped.is_empty())
        .unwrap_or(model)
}

/// Sends a minimal non-streaming chat completion through the channel and judges the answer.
pub async fn test_chat(row: &ChannelRow, requested_model: Option<&str>) -> TestOutcome {
    let started = Instant::now();
    let result = send_test(row, requested_model).await;
    let elapsed_ms = i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX);
    match result {
        Ok((status, body)) => {
            let message = judge_chat(status, &body);
            TestOutcome {
                success: message.is_empty(),
                message,
                elapsed_ms,
                status: Some(status),
            }
        }
        Err(message) => TestOutcome {
            success: false,
            message,
            elapsed_ms,
            status: None,
        },
    }
}

async fn send_test(
    row: &ChannelRow,
    requested_model: Option<&str>,
) -> Result<(u16, Vec<u8>), String> {
    let base = kinds::effective_base_url(row.r#type, &row.base_url);
    if base.is_empty() {
        return Err("The channel has no base_url to test".into());
    }
    let key = first_key(row);
    let body = json!({
        "model": test_model(row, requested_model),
        "messages": [{ "role": "user", "content": "hi" }],
        "max_tokens": 1,
    });
    let client = client().map_err(|_| "Cannot build an HTTP client".to_string())?;
    let mut request = client
        .post(format!("{base}/v1/chat/completions"))
        .bearer_auth(&key)
        .json(&body);
    if !row.openai_organization.is_empty() {
        request = request.header("OpenAI-Organization", &row.openai_organization);
    }
    if let Ok(Value::Object(headers)) = serde_json::from_str::<Value>(&row.header_override) {
        for (name, value) in headers {
            if let Some(value) = value.as_str() {
                request = request.header(name, value.replace("{api_key}", &key));
            }
        }
    }
    let response = request
        .send()
        .await
        .map_err(|e| format!("Request to the upstream failed: {}", e.without_url()))?;
    let status = response.status().as_u16();
    Ok((status, read_bounded(response).await?))
}

/// "" when the answer is a chat completion, else what is wrong with it.
fn judge_chat(status: u16, body: &[u8]) -> String {
    let parsed: Option<Value> = serde_json::from_slice(body).ok();
    if !(200..300).contains(&status) {
        let detail = parsed
            .as_ref()
            .and_then(|v| v.pointer("/error/message").or_else(|| v.get("message")))
            .and_then(Value::as_str)
            .map(str::to_string)
            .unwrap_or_else(|| quote(&String::from_utf8_lossy(body)));
        return format!("status code {status}: {}", quote(&detail));
    }
    match parsed {
        Some(answer) if answer.get("choices").is_some_and(Value::is_array) => String::new(),
        Some(answer) if answer.get("error").is_some() => format!(
            "The upstream answered with an error: {}",
            quote(&answer["error"].to_string())
        ),
        _ => format!(
            "The upstream's answer is not a chat completion: {}",
            quote(&String::from_utf8_lossy(body))
        ),
    }
}

fn quote(text: &str) -> String {
    let text = text.trim();
    if text.chars().count() <= MAX_QUOTED_CHARS {
        return text.to_string();
    }
    let mut cut: String = text.chars().take(MAX_QUOTED_CHARS).collect();
    cut.push('…');
    cut
}

/// Reads at most [`MAX_ANSWER_BYTES`] of an answer.
async fn read_bounded(mut response: reqwest::Response) -> Result<Vec<u8>, String> {
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| format!("Reading the upstream's answer failed: {}", e.without_url()))?
    {
        body.extend_from_slice(&chunk);
        if body.len() > MAX_ANSWER_BYTES {
            return Err("The upstream's answer is too large".into());
        }
    }
    Ok(body)
}

/// The balance in USD of an OpenAI-compatible account, as new-api computes it: the hard limit
/// of `/v1/dashboard/billing/subscription` minus the usage (in cents) reported by
/// `/v1/dashboard/billing/usage` since the start of the month (or 100 days back for accounts
/// without a payment method).
pub async fn openai_balance(row: &ChannelRow) -> Result<f64, String> {
    let base = kinds::effective_base_url(row.r#type, &row.base_url);
    if base.is_empty() {
        return Err("The channel has no base_url".into());
    }
    let key = first_key(row);
    let subscription = get_json(&format!("{base}/v1/dashboard/billing/subscription"), &key).await?;
    let hard_limit = subscription
        .get("hard_limit_usd")
        .and_then(Value::as_f64)
        .ok_or("The subscription answer has no hard_limit_usd")?;
    let has_payment_method = subscription
        .get("has_payment_method")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let today = pylon_shared::db::now_secs().div_euclid(86_400);
    let (year, month, _) = civil_date(today);
    let start = if has_payment_method {
        format!("{year:04}-{month:02}-01")
    } else {
        format_date(today - 100)
    };
    let usage = get_json(
        &format!(
            "{base}/v1/dashboard/billing/usage?start_date={start}&end_date={}",
            format_date(today)
        ),
        &key,
    )
    .await?;
    let total_usage_cents = usage
        .get("total_usage")
        .and_then(Value::as_f64)
        .ok_or("The usage answer has no total_usage")?;
    Ok(hard_limit - total_usage_cents / 100.0)
}

async fn get_json(url: &str, key: &str) -> Result<Value, String> {
    let client = client().map_err(|_| "Cannot build an HTTP client".to_string())?;
    let response = client
        .get(url)
        .bearer_auth(key)
        .send()
        .await
        .map_err(|e| format!("Request to the upstream failed: {}", e.without_url()))?;
    let status = response.status();
    if status != reqwest::StatusCode::OK {
        return Err(format!("status code: {}", status.as_u16()));
    }
    let body = read_bounded(response).await?;
    serde_json::from_slice(&body).map_err(|e| format!("The upstream's answer is not JSON: {e}"))
}

/// `YYYY-MM-DD` of a day counted from 1970-01-01.
fn format_date(days: i64) -> String {
    let (year, month, day) = civil_date(days);
    format!("{year:04}-{month:02}-{day:02}")
}

/// The proleptic Gregorian (year, month, day) of a day counted from 1970-01-01.
fn civil_date(days: i64) -> (i64, i64, i64) {
    // Howard Hinnant's days-to-civil algorithm, with eras of 400 years.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let mp = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates() {
        assert_eq!(format_date(0), "1970-01-01");
        assert_eq!(format_date(19_723), "2024-01-01");
        assert_eq!(format_date(19_782), "2024-02-29");
        assert_eq!(format_date(-1), "1969-12-31");
    }

    #[test]
    fn judges_chat_answers() {
        assert_eq!(judge_chat(200, br#"{"choices": []}"#), "");
        assert!(judge_chat(200, b"not json").contains("not a chat completion"));
        let denied = judge_chat(401, br#"{"error": {"message": "bad key"}}"#);
        assert_eq!(denied, "status code 401: bad key");
    }
}
