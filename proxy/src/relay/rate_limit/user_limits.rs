//! new-api's per-user request limits (the `ModelRequestRateLimit*` options).

use std::collections::HashMap;
use std::time::Duration;

use super::MINUTE;

/// new-api's per-user limits, from the options.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserLimits {
    pub enabled: bool,
    pub window: Duration,
    /// Requests in all per window (0: none).
    pub count: u32,
    /// Successful requests per window (0: none).
    pub success_count: u32,
    /// Per group: (count, success count).
    pub groups: HashMap<String, (u32, u32)>,
}

impl UserLimits {
    /// Reads the `ModelRequestRateLimit*` options (new-api's defaults: 1 minute, no total
    /// limit, 1000 successful requests); a malformed value keeps its default and is reported.
    pub fn from_options<'a>(options: impl Iterator<Item = (&'a str, &'a str)>) -> Self {
        let mut limits = Self {
            enabled: false,
            window: MINUTE,
            count: 0,
            success_count: 1000,
            groups: HashMap::new(),
        };
        for (key, value) in options {
            let number = || value.trim().parse::<u32>().ok();
            match key {
                "ModelRequestRateLimitEnabled" => limits.enabled = value.trim() == "true",
                "ModelRequestRateLimitDurationMinutes" => {
                    if let Some(minutes) = number().filter(|m| *m > 0) {
                        limits.window = Duration::from_secs(u64::from(minutes) * 60);
                    }
                }
                "ModelRequestRateLimitCount" => limits.count = number().unwrap_or(0),
                "ModelRequestRateLimitSuccessCount" => {
                    limits.success_count = number().unwrap_or(1000);
                }
                "ModelRequestRateLimitGroup" if !value.trim().is_empty() => {
                    match serde_json::from_str::<HashMap<String, [u32; 2]>>(value) {
                        Ok(groups) => {
                            limits.groups = groups
                                .into_iter()
                                .map(|(group, [count, success])| (group, (count, success)))
                                .collect();
                        }
                        Err(error) => pylon_shared::db::report_bad_row(
                            "options",
                            "ModelRequestRateLimitGroup",
                            &error.to_string(),
                        ),
                    }
                }
                _ => {}
            }
        }
        limits
    }

    /// The (count, success count) that apply to `group`.
    pub(super) fn of(&self, group: &str) -> (u32, u32) {
        self.groups
            .get(group)
            .copied()
            .unwrap_or((self.count, self.success_count))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_are_read_as_new_api_writes_them() {
        let limits = UserLimits::from_options(
            [
                ("ModelRequestRateLimitEnabled", "true"),
                ("ModelRequestRateLimitDurationMinutes", "2"),
                ("ModelRequestRateLimitCount", "30"),
                ("ModelRequestRateLimitSuccessCount", "20"),
                ("ModelRequestRateLimitGroup", r#"{"vip": [0, 100]}"#),
            ]
            .into_iter(),
        );
        assert!(limits.enabled);
        assert_eq!(limits.window, Duration::from_secs(120));
        assert_eq!(limits.of("default"), (30, 20));
        assert_eq!(limits.of("vip"), (0, 100));
        let defaults = UserLimits::from_options(std::iter::empty());
        assert!(!defaults.enabled);
        assert_eq!(defaults.of("default"), (0, 1000));
    }
}
