//! The daily check-in settings, from the options new-api names them by: `checkin_setting.enabled`
//! (off by default), `checkin_setting.min_quota` and `checkin_setting.max_quota` (1 000 and
//! 10 000 by default; negative values count as 0 and an inverted range is swapped, as in
//! new-api), and `checkin_setting.timezone`: the IANA zone whose calendar days count, by
//! default Asia/Shanghai, the zone new-api's own deployment runs in.

use crate::app::App;
use crate::error::ApiError;
use chrono::Utc;
use chrono_tz::Tz;
use rand::Rng;

const OPTION_ENABLED: &str = "checkin_setting.enabled";
const OPTION_MIN_QUOTA: &str = "checkin_setting.min_quota";
const OPTION_MAX_QUOTA: &str = "checkin_setting.max_quota";
const OPTION_TIMEZONE: &str = "checkin_setting.timezone";
const DEFAULT_MIN_QUOTA: i64 = 1_000;
const DEFAULT_MAX_QUOTA: i64 = 10_000;
const DEFAULT_TIMEZONE: Tz = chrono_tz::Asia::Shanghai;
/// The largest reward honoured, far beyond any sane setting, so that sums cannot overflow.
const MAX_REWARD: i64 = 1_000_000_000_000;

/// The check-in settings in force for one request.
#[derive(Debug, Clone, Copy)]
pub(super) struct CheckinConfig {
    pub enabled: bool,
    pub min_quota: i64,
    pub max_quota: i64,
    pub timezone: Tz,
}

impl CheckinConfig {
    /// Reads the options.
    pub(super) async fn load(app: &App) -> Result<Self, ApiError> {
        let enabled = app
            .settings
            .now()
            .get(OPTION_ENABLED)
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"));
        let min = quota_option(app, OPTION_MIN_QUOTA, DEFAULT_MIN_QUOTA).await?;
        let max = quota_option(app, OPTION_MAX_QUOTA, DEFAULT_MAX_QUOTA).await?;
        let timezone = app
            .settings
            .now()
            .get(OPTION_TIMEZONE)
            .and_then(|v| {
                let parsed = v.trim().parse::<Tz>().ok();
                if parsed.is_none() && !v.trim().is_empty() {
                    tracing::warn!(
                        "{OPTION_TIMEZONE} {v:?} is not an IANA time zone; using the default"
                    );
                }
                parsed
            })
            .unwrap_or(DEFAULT_TIMEZONE);
        Ok(Self {
            enabled,
            min_quota: min.min(max),
            max_quota: min.max(max),
            timezone,
        })
    }

    /// Refuses when check-in is switched off.
    pub(super) fn require_enabled(&self) -> Result<(), ApiError> {
        if self.enabled {
            Ok(())
        } else {
            Err(ApiError::invalid("Check-in is not enabled"))
        }
    }

    /// Today's date (`YYYY-MM-DD`) in the check-in time zone.
    pub(super) fn today(&self) -> String {
        Utc::now()
            .with_timezone(&self.timezone)
            .format("%Y-%m-%d")
            .to_string()
    }

    /// This month (`YYYY-MM`) in the check-in time zone.
    pub(super) fn this_month(&self) -> String {
        Utc::now()
            .with_timezone(&self.timezone)
            .format("%Y-%m")
            .to_string()
    }

    /// A reward drawn uniformly from `[min_quota, max_quota]`.
    pub(super) fn draw(&self) -> i64 {
        if self.max_quota <= self.min_quota {
            return self.min_quota;
        }
        rand::rng().random_range(self.min_quota..=self.max_quota)
    }
}

/// A quota option as an integer in `[0, MAX_REWARD]` (new-api may store `1000` or `1000.0`).
async fn quota_option(app: &App, key: &str, default: i64) -> Result<i64, ApiError> {
    let value = app
        .settings
        .now()
        .get(key)
        .and_then(|v| v.trim().parse::<f64>().ok())
        .filter(|v| v.is_finite())
        .map_or(default, |v| v.clamp(0.0, MAX_REWARD as f64) as i64);
    Ok(value)
}
