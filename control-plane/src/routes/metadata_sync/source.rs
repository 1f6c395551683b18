//! new-api's model metadata source: `models.json` and `vendors.json` under
//! `control_plane.model_metadata_url` (per locale under `api/i18n/{locale}/`), each new-api's
//! envelope `{"success": true, "data": [...]}` or the bare list. The models answer must be
//! read; a vendors answer that cannot be read leaves vendors without description or icon, as
//! in new-api.

use crate::app::App;
use crate::routes::channel::upstream::get_bounded;
use pylon_shared::db::{MetadataModel, MetadataVendor};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::collections::HashMap;
use std::time::Duration;

/// The largest answer read (new-api's `SYNC_HTTP_MAX_MB` default).
const MAX_ANSWER_BYTES: usize = 10 << 20;

/// The locales the source is translated into (new-api's list).
const LOCALES: [&str; 4] = ["en", "zh-CN", "zh-TW", "ja"];

/// The two files of one locale.
pub(super) struct Urls {
    pub models: String,
    pub vendors: String,
}

impl Urls {
    /// The files for `locale` (a known locale, any case; else the untranslated files).
    pub fn of(base: &str, locale: &str) -> Self {
        let base = base.trim_end_matches('/');
        let locale = LOCALES
            .iter()
            .find(|known| known.eq_ignore_ascii_case(locale.trim()));
        let dir = match locale {
            Some(locale) => format!("{base}/api/i18n/{locale}/newapi"),
            None => format!("{base}/api/newapi"),
        };
        Self {
            models: format!("{dir}/models.json"),
            vendors: format!("{dir}/vendors.json"),
        }
    }
}

/// The source's models by name, each with its vendor as the source describes it.
pub(super) struct Catalogue {
    pub models: HashMap<String, MetadataModel>,
}

#[derive(Debug, Deserialize)]
struct SourceModel {
    #[serde(default)]
    model_name: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    icon: String,
    #[serde(default)]
    tags: String,
    #[serde(default)]
    vendor_name: String,
    #[serde(default)]
    status: i64,
    #[serde(default)]
    name_rule: i64,
}

#[derive(Debug, Deserialize)]
struct SourceVendor {
    #[serde(default)]
    name: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    icon: String,
    #[serde(default)]
    status: i64,
}

/// Reads both files of `urls`; the error says why the models could not be read.
pub(super) async fn read(app: &App, urls: &Urls) -> Result<Catalogue, String> {
    let timeout = Duration::from_secs(app.config.control_plane.model_metadata_timeout_secs);
    let (models, vendors) = tokio::join!(
        fetch::<SourceModel>(&urls.models, timeout),
        fetch::<SourceVendor>(&urls.vendors, timeout),
    );
    let models = models?;
    let vendors: HashMap<String, SourceVendor> = match vendors {
        Ok(vendors) => vendors
            .into_iter()
            .filter(|v| !v.name.is_empty())
            .map(|v| (v.name.clone(), v))
            .collect(),
        Err(error) => {
            tracing::warn!(%error, url = %urls.vendors, "model metadata vendors unread");
            HashMap::new()
        }
    };
    let models = models
        .into_iter()
        .filter(|m| !m.model_name.is_empty())
        .map(|m| {
            let vendor = (!m.vendor_name.is_empty()).then(|| {
                let described = vendors.get(&m.vendor_name);
                MetadataVendor {
                    name: m.vendor_name.clone(),
                    description: described.map(|v| v.description.clone()).unwrap_or_default(),
                    icon: described.map(|v| v.icon.clone()).unwrap_or_default(),
                    status: described.map_or(0, |v| v.status),
                }
            });
            let model = MetadataModel {
                model_name: m.model_name,
                description: m.description,
                icon: m.icon,
                tags: m.tags,
                vendor,
                status: m.status,
                name_rule: m.name_rule,
            };
            (model.model_name.clone(), model)
        })
        .collect();
    Ok(Catalogue { models })
}

/// One file of the source, as a list.
async fn fetch<T: DeserializeOwned>(url: &str, timeout: Duration) -> Result<Vec<T>, String> {
    parse(&get_bounded(url, Some(timeout), MAX_ANSWER_BYTES).await?)
}

/// A list in new-api's envelope, or bare.
fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<Vec<T>, String> {
    let answer: Value =
        serde_json::from_slice(body).map_err(|_| "the answer is not JSON".to_string())?;
    let list = match answer {
        Value::Array(_) => answer,
        Value::Object(mut envelope) => {
            if envelope.get("success") == Some(&Value::Bool(false)) {
                let message = envelope
                    .get("message")
                    .and_then(Value::as_str)
                    .unwrap_or("");
                return Err(format!("the source refused: {message}"));
            }
            match envelope.remove("data") {
                Some(list @ Value::Array(_)) => list,
                _ => return Err("the answer holds no list (`data`)".to_string()),
            }
        }
        _ => return Err("the answer is not a list".to_string()),
    };
    serde_json::from_value(list).map_err(|e| format!("the list is not in the expected shape: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_follow_the_locale() {
        let urls = Urls::of("https://meta.example/", "zh-cn");
        assert_eq!(
            urls.models,
            "https://meta.example/api/i18n/zh-CN/newapi/models.json"
        );
        let urls = Urls::of("https://meta.example", "");
        assert_eq!(urls.vendors, "https://meta.example/api/newapi/vendors.json");
        assert_eq!(
            Urls::of("http://m", "fr").models,
            "http://m/api/newapi/models.json"
        );
    }

    #[test]
    fn lists_are_read_bare_or_enveloped() {
        let bare: Vec<SourceVendor> = parse(br#"[{"name": "OpenAI"}]"#).unwrap();
        assert_eq!(bare[0].name, "OpenAI");
        let wrapped: Vec<SourceVendor> =
            parse(br#"{"success": true, "data": [{"name": "A", "status": 1}]}"#).unwrap();
        assert_eq!(wrapped[0].status, 1);
        assert!(parse::<SourceVendor>(b"<html>").is_err());
        assert!(parse::<SourceVendor>(br#"{"models": []}"#).is_err());
        assert!(
            parse::<SourceVendor>(br#"{"success": false, "message": "down"}"#)
                .unwrap_err()
                .contains("down")
        );
        assert!(parse::<SourceModel>(br#"[{"model_name": 5}]"#).is_err());
    }
}
