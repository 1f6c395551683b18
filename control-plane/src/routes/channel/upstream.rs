//! Calls from the control plane to a channel's upstream: the test request, the model list and
//! the OpenAI billing queries. The test and the model list are built by the formats layer
//! (`pylon_shared::llm::provider`), the same request builder the relay uses, so a channel test
//! that passes means the relay's request is right for that channel type (OpenAI-compatible,
//! Azure, Anthropic, Gemini, Vertex AI, Bedrock). Requests go straight to the upstream
//! (environment proxies are ignored, as the relay ignores them), with a timeout, and read at
//! most a bounded answer.

use super::kinds;
use crate::error::ApiError;
use pylon_shared::db::{ChannelRow, split_list};
use pylon_shared::llm::provider::{self, vertex};
use pylon_shared::llm::{
    self, ApiFormat, Channel, ChannelType, Outgoing, UpstreamRequest, plan_request,
};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

/// How long a test or a billing query may take.
const TIMEOUT: Duration = Duration::from_secs(30);
/// At most this much of an answer is read.
const MAX_ANSWER_BYTES: usize = 1 << 20;
/// Error texts quoted from an upstream are cut to this many characters.
const MAX_QUOTED_CHARS: usize = 300;
/// The path a channel test asks for, as an OpenAI client would.
const TEST_PATH: &str = "/v1/chat/completions";

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
pub(crate) fn client() -> Result<reqwest::Client, ApiError> {
    reqwest::Client::builder()
        .timeout(TIMEOUT)
        .no_proxy()
        .build()
        .map_err(|e| ApiError::Internal(e.into()))
}

/// GETs `url` (a source of prices or model metadata) and reads at most `max_bytes` of its 2xx
/// answer, within `timeout` for the whole exchange when given (else the client's own). Errors
/// are texts the caller puts in its envelope.
pub(crate) async fn get_bounded(
    url: &str,
    timeout: Option<Duration>,
    max_bytes: usize,
) -> Result<Vec<u8>, String> {
    let client = client().map_err(|_| "cannot build an HTTP client".to_string())?;
    let read = async {
        let mut response = client
            .get(url)
            .send()
            .await
            .map_err(|e| e.without_url().to_string())?;
        let status = response.status();
        if !status.is_success() {
            return Err(format!("status code {}", status.as_u16()));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| format!("reading the answer failed: {}", e.without_url()))?
        {
            body.extend_from_slice(&chunk);
            if body.len() > max_bytes {
                return Err("the answer is too large".to_string());
            }
        }
        Ok(body)
    };
    match timeout {
        Some(timeout) => tokio::time::timeout(timeout, read)
            .await
            .map_err(|_| format!("no answer within {} s", timeout.as_secs()))?,
        None => read.await,
    }
}

/// The first key of a channel (a multi-key channel holds one per line; a Vertex AI key is
/// one service-account JSON document, kept whole).
fn first_key(row: &ChannelRow) -> String {
    if row.r#type == ChannelType::VertexAi.number() && row.keys.trim_start().starts_with('{') {
        return row.keys.trim().to_string();
    }
    row.keys
        .lines()
        .map(str::trim)
        .find(|k| !k.is_empty())
        .unwrap_or("")
        .to_string()
}

/// The channel as the formats layer sees it. Types the formats layer does not name are
/// OpenAI-compatible (the many providers new-api numbers that expose OpenAI's API).
fn channel_of(row: &ChannelRow) -> Channel {
    let kind = ChannelType::from_number(row.r#type).unwrap_or(ChannelType::OpenAi);
    let base_url = match kind {
        ChannelType::OpenAi => kinds::effective_base_url(row.r#type, &row.base_url),
        _ => row.base_url.trim().trim_end_matches('/').to_string(),
    };
    Channel {
        kind,
        base_url,
        key: first_key(row),
        other: row.other.clone(),
    }
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

/// Sends a minimal non-streaming chat request through the channel, in the channel's own
/// format, and judges the answer.
pub async fn test_chat(row: &ChannelRow, requested_model: Option<&str>) -> TestOutcome {
    let started = Instant::now();
    let result = send_test(row, requested_model).await;
    let elapsed_ms = i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX);
    match result {
        Ok((status, message)) => TestOutcome {
            success: message.is_empty(),
            message,
            elapsed_ms,
            status: Some(status),
        },
        Err(message) => TestOutcome {
            success: false,
            message,
            elapsed_ms,
            status: None,
        },
    }
}

/// The upstream's status and the verdict on its answer ("" when it is a good answer).
async fn send_test(
    row: &ChannelRow,
    requested_model: Option<&str>,
) -> Result<(u16, String), String> {
    let channel = channel_of(row);
    if channel.kind == ChannelType::OpenAi && channel.base_url.is_empty() {
        return Err("The channel has no base_url to test".into());
    }
    let model = test_model(row, requested_model);
    let ingress = llm::recognise("POST", TEST_PATH, |_| None)
        .ok_or_else(|| "The test request is not recognised".to_string())?;
    let body = json!({
        "model": model,
        "messages": [{ "role": "user", "content": "hi" }],
        "max_tokens": 1,
    });
    let plan = plan_request(&ingress, channel.kind, body.to_string().as_bytes(), &model)
        .map_err(|e| e.message)?;
    let access_token = vertex_access_token(&channel).await?;
    let outgoing = Outgoing {
        format: plan.upstream_format,
        op: plan.upstream_op,
        model: &model,
        stream: false,
        body: plan.body.clone(),
        relay_path: TEST_PATH,
        passed_headers: Vec::new(),
        access_token: access_token.as_deref(),
        amz_date: &amz_date(pylon_shared::db::now_secs()),
    };
    let request = provider::build(&channel, outgoing).map_err(|e| e.message)?;
    let request = with_channel_headers(row, &channel, request);
    let (status, body) = send(&request).await?;
    Ok((status, judge(&plan, status, &body)))
}

/// The channel's own extra headers: the OpenAI organization and the header override (with
/// `{api_key}` replaced by the key).
fn with_channel_headers(
    row: &ChannelRow,
    channel: &Channel,
    mut request: UpstreamRequest,
) -> UpstreamRequest {
    if channel.kind == ChannelType::OpenAi && !row.openai_organization.is_empty() {
        request.headers.push((
            "openai-organization".into(),
            row.openai_organization.clone(),
        ));
    }
    if let Ok(Value::Object(headers)) = serde_json::from_str::<Value>(&row.header_override) {
        for (name, value) in headers {
            if let Some(value) = value.as_str() {
                let name = name.to_ascii_lowercase();
                request.headers.retain(|(n, _)| *n != name);
                request
                    .headers
                    .push((name, value.replace("{api_key}", &channel.key)));
            }
        }
    }
    request
}

/// Sends a request built by the formats layer; the status and the (bounded) answer.
async fn send(request: &UpstreamRequest) -> Result<(u16, Vec<u8>), String> {
    let client = client().map_err(|_| "Cannot build an HTTP client".to_string())?;
    let method = reqwest::Method::from_bytes(request.method.as_bytes())
        .map_err(|_| format!("Unknown method {}", request.method))?;
    let mut builder = client.request(method, request.url());
    for (name, value) in &request.headers {
        builder = builder.header(name.as_str(), value.as_str());
    }
    if !request.body.is_empty() {
        builder = builder.body(request.body.clone());
    }
    let response = builder
        .send()
        .await
        .map_err(|e| format!("Request to the upstream failed: {}", e.without_url()))?;
    let status = response.status().as_u16();
    Ok((status, read_bounded(response).await?))
}

/// For a Vertex AI channel, an OAuth access token obtained with the service account's signed
/// JWT; `None` for other types.
async fn vertex_access_token(channel: &Channel) -> Result<Option<String>, String> {
    if channel.kind != ChannelType::VertexAi {
        return Ok(None);
    }
    let account = vertex::parse_service_account(&channel.key).map_err(|e| e.message)?;
    let now = u64::try_from(pylon_shared::db::now_secs()).unwrap_or(0);
    let request = vertex::token_request(&account, now).map_err(|e| e.message)?;
    let (status, body) = send(&request).await?;
    if !(200..300).contains(&status) {
        return Err(format!(
            "Vertex AI token exchange answered {status}: {}",
            quote(&String::from_utf8_lossy(&body))
        ));
    }
    let token = vertex::parse_token_answer(&body).map_err(|e| e.message)?;
    Ok(Some(token.token))
}

/// "" when the answer is a chat answer in the upstream's format, else what is wrong with it.
fn judge(plan: &llm::Plan, status: u16, body: &[u8]) -> String {
    if !(200..300).contains(&status) {
        let error = llm::parse_upstream_error(status, body);
        let detail = if error.message.is_empty() {
            quote(&String::from_utf8_lossy(body))
        } else {
            quote(&error.message)
        };
        return format!("status code {status}: {detail}");
    }
    let answer: Option<Value> = serde_json::from_slice(body).ok();
    let expected = match plan.upstream_format {
        ApiFormat::Anthropic => "content",
        ApiFormat::Gemini => "candidates",
        _ => "choices",
    };
    match answer {
        Some(answer) if answer.get(expected).is_some_and(Value::is_array) => String::new(),
        Some(answer) if answer.get("error").is_some() => format!(
            "The upstream answered with an error: {}",
            quote(&answer["error"].to_string())
        ),
        _ => format!(
            "The upstream's answer is not {}: {}",
            format_name(plan.upstream_format),
            quote(&String::from_utf8_lossy(body))
        ),
    }
}

fn format_name(format: ApiFormat) -> &'static str {
    match format {
        ApiFormat::Anthropic => "an Anthropic message",
        ApiFormat::Gemini => "a Gemini generateContent answer",
        _ => "a chat completion",
    }
}

/// The upstream's model ids, from its model-list call (new-api's `fetch_models`).
pub async fn list_models(row: &ChannelRow) -> Result<Vec<String>, String> {
    let channel = channel_of(row);
    let request = provider::model_list_request(&channel, &amz_date(pylon_shared::db::now_secs()))
        .map_err(|e| e.message)?
        .ok_or_else(|| "This channel type does not list its models".to_string())?;
    let request = with_channel_headers(row, &channel, request);
    let (status, body) = send(&request).await?;
    if !(200..300).contains(&status) {
        let error = llm::parse_upstream_error(status, &body);
        return Err(format!("status code {status}: {}", quote(&error.message)));
    }
    Ok(provider::parse_model_list(channel.kind, &body))
}

/// SigV4's `YYYYMMDDTHHMMSSZ` of a Unix time.
fn amz_date(unix: i64) -> String {
    let (year, month, day) = civil_date(unix.div_euclid(86_400));
    let second_of_day = unix.rem_euclid(86_400);
    format!(
        "{year:04}{month:02}{day:02}T{:02}{:02}{:02}Z",
        second_of_day / 3600,
        second_of_day / 60 % 60,
        second_of_day % 60
    )
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
pub(crate) async fn read_bounded(mut response: reqwest::Response) -> Result<Vec<u8>, String> {
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

/// The balance of the OpenAI-compatible account of `key` (a key of the channel `row`), in
/// millionths of a US dollar, as new-api computes it: the hard limit of
/// `/v1/dashboard/billing/subscription` minus the usage (in cents) reported by
/// `/v1/dashboard/billing/usage` since the start of the month (or 100 days back for accounts
/// without a payment method). Each amount is rounded to the micro-dollar once, as read.
pub async fn openai_balance_micros(row: &ChannelRow, key: &str) -> Result<i64, String> {
    let base = kinds::effective_base_url(row.r#type, &row.base_url);
    if base.is_empty() {
        return Err("The channel has no base_url".into());
    }
    let subscription = get_json(&format!("{base}/v1/dashboard/billing/subscription"), key).await?;
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
        key,
    )
    .await?;
    let total_usage_cents = usage
        .get("total_usage")
        .and_then(Value::as_f64)
        .ok_or("The usage answer has no total_usage")?;
    let micros = |amount: f64| {
        let micros = amount.round();
        if micros.is_finite() && micros.abs() < 1e15 {
            Ok(micros as i64)
        } else {
            Err("The upstream's amounts are out of range".to_string())
        }
    };
    Ok(micros(hard_limit * 1e6)? - micros(total_usage_cents * 1e4)?)
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
    fn amz_dates() {
        assert_eq!(amz_date(0), "19700101T000000Z");
        assert_eq!(amz_date(1_440_938_160), "20150830T123600Z");
    }

    #[test]
    fn judges_answers_in_the_upstream_format() {
        let ingress = llm::recognise("POST", TEST_PATH, |_| None).unwrap();
        let body = json!({"model": "m", "messages": [{"role": "user", "content": "hi"}]});
        let plan_for =
            |kind| plan_request(&ingress, kind, body.to_string().as_bytes(), "m").unwrap();
        let openai = plan_for(ChannelType::OpenAi);
        assert_eq!(judge(&openai, 200, br#"{"choices": []}"#), "");
        assert!(judge(&openai, 200, b"not json").contains("not a chat completion"));
        let denied = judge(&openai, 401, br#"{"error": {"message": "bad key"}}"#);
        assert_eq!(denied, "status code 401: bad key");
        let anthropic = plan_for(ChannelType::Anthropic);
        let message = br#"{"id":"msg_1","type":"message","role":"assistant","model":"m","content":[{"type":"text","text":"h"}],"stop_reason":"max_tokens","usage":{"input_tokens":8,"output_tokens":1}}"#;
        assert_eq!(judge(&anthropic, 200, message), "");
        assert!(judge(&anthropic, 200, br#"{"choices": []}"#).contains("not an Anthropic message"));
    }
}
