//! new-api's `channel_affinity_setting`, stored as its console stores it: one option per field
//! (`channel_affinity_setting.enabled`, `…rules` holding the rules as a JSON array), with
//! new-api's defaults. Parsed once per option change into [`Setting`], whose rules hold their
//! patterns compiled; the control plane refuses a value that does not parse ([`check`]).

use super::json_path::JsonPath;
use regex::Regex;
use serde::Deserialize;
use std::time::Duration;

pub const ENABLED: &str = "channel_affinity_setting.enabled";
pub const SWITCH_ON_SUCCESS: &str = "channel_affinity_setting.switch_on_success";
pub const KEEP_ON_CHANNEL_DISABLED: &str = "channel_affinity_setting.keep_on_channel_disabled";
pub const MAX_ENTRIES: &str = "channel_affinity_setting.max_entries";
pub const DEFAULT_TTL_SECONDS: &str = "channel_affinity_setting.default_ttl_seconds";
pub const RULES: &str = "channel_affinity_setting.rules";

/// new-api's two default rules: Codex CLI sessions by `prompt_cache_key`, Claude Code sessions
/// by their session header or the session in `metadata.user_id` (its parameter override
/// templates are left out: Pylon has no parameter overrides).
pub const DEFAULT_RULES: &str = r#"[{"name":"codex cli trace","model_regex":["^gpt-.*$"],"path_regex":["/v1/responses"],"key_sources":[{"type":"gjson","path":"prompt_cache_key"}],"value_regex":"","ttl_seconds":0,"skip_retry_on_failure":true,"include_using_group":true,"include_model_name":false,"include_rule_name":true},{"name":"claude cli trace","model_regex":["^claude-.*$","^gpt-.*$"],"path_regex":["/v1/messages"],"key_sources":[{"type":"request_header","key":"X-Claude-Code-Session-Id"},{"type":"gjson","path":"metadata.user_id","nested_path":"session_id"}],"value_regex":"","ttl_seconds":0,"skip_retry_on_failure":true,"include_using_group":true,"include_model_name":false,"include_rule_name":true}]"#;

/// What `max_entries` and `default_ttl_seconds` mean when unset or 0 (new-api's).
const FALLBACK_MAX_ENTRIES: usize = 100_000;
const FALLBACK_TTL: Duration = Duration::from_secs(3600);

/// The setting in force.
#[derive(Debug, Clone)]
pub struct Setting {
    pub enabled: bool,
    /// A request that another channel served after the bound one failed moves the binding.
    pub switch_on_success: bool,
    /// A binding whose channel is no longer a candidate (disabled, deleted, not serving the
    /// group and model) is kept for when it comes back, instead of dropped.
    pub keep_on_channel_disabled: bool,
    /// Bindings held at most.
    pub max_entries: usize,
    /// How long a binding lives when its rule sets no TTL.
    pub default_ttl: Duration,
    pub rules: Vec<Rule>,
}

impl Default for Setting {
    fn default() -> Self {
        Self {
            enabled: true,
            switch_on_success: true,
            keep_on_channel_disabled: false,
            max_entries: FALLBACK_MAX_ENTRIES,
            default_ttl: FALLBACK_TTL,
            rules: rules(DEFAULT_RULES).unwrap_or_default(),
        }
    }
}

impl Setting {
    /// The setting the stored options give; a value that does not parse keeps its default and
    /// is reported in the list of problems.
    pub fn from_options<'a>(
        options: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> (Self, Vec<String>) {
        let mut setting = Self::default();
        let mut problems = Vec::new();
        for (key, value) in options {
            let value = value.trim();
            if !key.starts_with("channel_affinity_setting.") || value.is_empty() {
                continue;
            }
            let applied = match key {
                ENABLED => flag(key, value).map(|on| setting.enabled = on),
                SWITCH_ON_SUCCESS => flag(key, value).map(|on| setting.switch_on_success = on),
                KEEP_ON_CHANNEL_DISABLED => {
                    flag(key, value).map(|on| setting.keep_on_channel_disabled = on)
                }
                MAX_ENTRIES => count(key, value).map(|n| {
                    setting.max_entries = usize::try_from(n)
                        .ok()
                        .filter(|n| *n > 0)
                        .unwrap_or(FALLBACK_MAX_ENTRIES);
                }),
                DEFAULT_TTL_SECONDS => count(key, value).map(|secs| {
                    setting.default_ttl = if secs > 0 {
                        Duration::from_secs(secs)
                    } else {
                        FALLBACK_TTL
                    };
                }),
                RULES => rules(value).map(|rules| setting.rules = rules),
                _ => Ok(()),
            };
            if let Err(problem) = applied {
                problems.push(problem);
            }
        }
        (setting, problems)
    }

    /// How long a binding of `rule` lives.
    pub fn ttl(&self, rule: &Rule) -> Duration {
        rule.ttl.unwrap_or(self.default_ttl)
    }

    /// The rule named `name`.
    pub fn rule(&self, name: &str) -> Option<&Rule> {
        self.rules.iter().find(|rule| rule.name == name)
    }
}

/// Checks a value of one of the setting's options before it is stored (other keys pass).
pub fn check(key: &str, value: &str) -> Result<(), String> {
    let value = value.trim();
    match key {
        ENABLED | SWITCH_ON_SUCCESS | KEEP_ON_CHANNEL_DISABLED => flag(key, value).map(|_| ()),
        MAX_ENTRIES | DEFAULT_TTL_SECONDS => count(key, value).map(|_| ()),
        RULES => rules(value).map(|_| ()),
        _ => Ok(()),
    }
}

fn flag(key: &str, value: &str) -> Result<bool, String> {
    match value {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(format!("{key} must be true or false")),
    }
}

/// A whole number of zero or more (new-api's console may write `100000.0`).
fn count(key: &str, value: &str) -> Result<u64, String> {
    let number: f64 = value
        .parse()
        .map_err(|_| format!("{key} must be a number"))?;
    if !number.is_finite() || number < 0.0 || number.fract() != 0.0 || number > 1e15 {
        return Err(format!("{key} must be a whole number of 0 or more"));
    }
    #[expect(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        reason = "a whole number between 0 and 1e15"
    )]
    Ok(number as u64)
}

/// One rule: when it applies (model, path, user agent), where the session key comes from, and
/// what the binding does.
#[derive(Debug, Clone)]
pub struct Rule {
    pub name: String,
    models: Vec<Regex>,
    paths: Vec<Regex>,
    /// Lowercase; the user agent must contain one of them.
    user_agents: Vec<String>,
    /// Tried in order; the first that yields a value gives the key.
    pub sources: Vec<KeySource>,
    value: Option<Regex>,
    ttl: Option<Duration>,
    /// A request the binding sent to its channel goes to no other channel when it fails.
    pub skip_retry_on_failure: bool,
    pub include_using_group: bool,
    pub include_model_name: bool,
    pub include_rule_name: bool,
}

impl Rule {
    /// Whether the rule applies to a request for `model` at `path` with `user_agent` (as in
    /// new-api: a rule without model patterns applies to nothing, one without path patterns or
    /// user agents to every path and agent).
    pub fn applies(&self, model: &str, path: &str, user_agent: &str) -> bool {
        any_match(&self.models, model)
            && (self.paths.is_empty() || any_match(&self.paths, path))
            && (self.user_agents.is_empty() || {
                let agent = user_agent.to_lowercase();
                self.user_agents.iter().any(|part| agent.contains(part))
            })
    }

    /// Whether `value` may key a binding (the rule's `value_regex`).
    pub fn accepts(&self, value: &str) -> bool {
        self.value
            .as_ref()
            .is_none_or(|pattern| pattern.is_match(value))
    }

    /// The binding's key, as new-api builds it: the rule's name, the model and the group when
    /// the rule includes them, then the value, joined by `:`.
    pub fn cache_key(&self, model: &str, group: &str, value: &str) -> String {
        let parts = [
            (self.include_rule_name, self.name.as_str()),
            (self.include_model_name, model),
            (self.include_using_group, group),
        ];
        let mut key = String::new();
        for (_, part) in parts
            .iter()
            .filter(|(included, part)| *included && !part.is_empty())
        {
            key.push_str(part);
            key.push(':');
        }
        key.push_str(value);
        key
    }
}

fn any_match(patterns: &[Regex], text: &str) -> bool {
    !text.is_empty() && patterns.iter().any(|pattern| pattern.is_match(text))
}

/// Where a rule reads its key.
#[derive(Debug, Clone)]
pub struct KeySource {
    pub kind: SourceKind,
    /// A path into the value (which must then be JSON), new-api's `nested_path`.
    pub nested: Option<JsonPath>,
}

/// The kinds of key source (new-api's `type`).
#[derive(Debug, Clone)]
pub enum SourceKind {
    /// A number of the request's context (`id`, `token_id`), when positive.
    ContextInt(String),
    /// A text of the request's context (`group`, `username`, …).
    ContextString(String),
    /// A request header.
    RequestHeader(String),
    /// A path into the JSON body (`gjson`).
    Body(JsonPath),
}

impl KeySource {
    /// new-api's name of the kind.
    pub fn type_name(&self) -> &'static str {
        match self.kind {
            SourceKind::ContextInt(_) => "context_int",
            SourceKind::ContextString(_) => "context_string",
            SourceKind::RequestHeader(_) => "request_header",
            SourceKind::Body(_) => "gjson",
        }
    }

    /// The context key or header name (empty for a body path).
    pub fn key(&self) -> &str {
        match &self.kind {
            SourceKind::ContextInt(key)
            | SourceKind::ContextString(key)
            | SourceKind::RequestHeader(key) => key,
            SourceKind::Body(_) => "",
        }
    }

    /// The body path (empty for the other kinds).
    pub fn path(&self) -> &str {
        match &self.kind {
            SourceKind::Body(path) => path.as_str(),
            _ => "",
        }
    }
}

/// A rule as the console writes it (unknown fields, such as `param_override_template`, are
/// ignored; null lists read as empty).
#[derive(Deserialize)]
struct RuleText {
    #[serde(default)]
    name: String,
    #[serde(default)]
    model_regex: Option<Vec<String>>,
    #[serde(default)]
    path_regex: Option<Vec<String>>,
    #[serde(default)]
    user_agent_include: Option<Vec<String>>,
    #[serde(default)]
    key_sources: Option<Vec<SourceText>>,
    #[serde(default)]
    value_regex: String,
    #[serde(default)]
    ttl_seconds: i64,
    #[serde(default)]
    skip_retry_on_failure: bool,
    #[serde(default)]
    include_using_group: bool,
    #[serde(default)]
    include_model_name: bool,
    #[serde(default)]
    include_rule_name: bool,
}

#[derive(Deserialize)]
struct SourceText {
    #[serde(default, rename = "type")]
    kind: String,
    #[serde(default)]
    key: String,
    #[serde(default)]
    path: String,
    #[serde(default)]
    nested_path: String,
}

/// The rules of the `rules` option, or what is wrong with them.
pub fn rules(text: &str) -> Result<Vec<Rule>, String> {
    let parsed: Vec<RuleText> = serde_json::from_str(text)
        .map_err(|e| format!("{RULES} must be a JSON array of rules: {e}"))?;
    parsed
        .into_iter()
        .enumerate()
        .map(|(index, rule)| {
            compile(rule).map_err(|problem| format!("{RULES}: rule {}: {problem}", index + 1))
        })
        .collect()
}

fn compile(rule: RuleText) -> Result<Rule, String> {
    let name = rule.name.trim().to_string();
    if name.is_empty() {
        return Err("name must not be empty".into());
    }
    let sources = rule
        .key_sources
        .unwrap_or_default()
        .into_iter()
        .map(source)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|problem| format!("{name:?}: {problem}"))?;
    if sources.is_empty() {
        return Err(format!(
            "{name:?}: key_sources must name at least one source"
        ));
    }
    let ttl = u64::try_from(rule.ttl_seconds)
        .map_err(|_| format!("{name:?}: ttl_seconds must not be negative"))?;
    let value = rule.value_regex.trim();
    Ok(Rule {
        models: patterns(&name, rule.model_regex)?,
        paths: patterns(&name, rule.path_regex)?,
        user_agents: rule
            .user_agent_include
            .unwrap_or_default()
            .iter()
            .map(|part| part.trim().to_lowercase())
            .filter(|part| !part.is_empty())
            .collect(),
        sources,
        value: if value.is_empty() {
            None
        } else {
            Some(pattern(&name, value)?)
        },
        ttl: (ttl > 0).then(|| Duration::from_secs(ttl)),
        skip_retry_on_failure: rule.skip_retry_on_failure,
        include_using_group: rule.include_using_group,
        include_model_name: rule.include_model_name,
        include_rule_name: rule.include_rule_name,
        name,
    })
}

/// The non-empty patterns of a list, compiled.
fn patterns(rule: &str, list: Option<Vec<String>>) -> Result<Vec<Regex>, String> {
    list.unwrap_or_default()
        .iter()
        .map(|text| text.trim())
        .filter(|text| !text.is_empty())
        .map(|text| pattern(rule, text))
        .collect()
}

fn pattern(rule: &str, text: &str) -> Result<Regex, String> {
    Regex::new(text).map_err(|e| format!("{rule:?}: the pattern {text:?} is invalid: {e}"))
}

fn source(text: SourceText) -> Result<KeySource, String> {
    let key = text.key.trim().to_string();
    let needs_key = |kind: fn(String) -> SourceKind| {
        if key.is_empty() {
            Err(format!("a {} source needs a key", text.kind))
        } else {
            Ok(kind(key.clone()))
        }
    };
    let kind = match text.kind.trim() {
        "context_int" => needs_key(SourceKind::ContextInt)?,
        "context_string" => needs_key(SourceKind::ContextString)?,
        "request_header" => needs_key(SourceKind::RequestHeader)?,
        "gjson" => SourceKind::Body(
            JsonPath::parse(&text.path)
                .ok_or_else(|| format!("the gjson path {:?} is not a path", text.path))?,
        ),
        other => {
            return Err(format!(
                "the source type {other:?} is none of context_int, context_string, \
                 request_header, gjson"
            ));
        }
    };
    let nested = match text.nested_path.trim() {
        "" => None,
        path => Some(
            JsonPath::parse(path)
                .ok_or_else(|| format!("the nested path {path:?} is not a path"))?,
        ),
    };
    Ok(KeySource { kind, nested })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_are_new_apis() {
        let setting = Setting::default();
        assert!(setting.enabled && setting.switch_on_success);
        assert!(!setting.keep_on_channel_disabled);
        assert_eq!(setting.max_entries, 100_000);
        assert_eq!(setting.default_ttl, Duration::from_secs(3600));
        let names: Vec<&str> = setting.rules.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["codex cli trace", "claude cli trace"]);
        assert_eq!(check(RULES, DEFAULT_RULES), Ok(()));
        let codex = &setting.rules[0];
        assert!(codex.applies("gpt-5", "/v1/responses", ""));
        assert!(!codex.applies("claude-x", "/v1/responses", ""));
        assert!(!codex.applies("gpt-5", "/v1/chat/completions", ""));
        assert_eq!(
            codex.cache_key("gpt-5", "vip", "s1"),
            "codex cli trace:vip:s1"
        );
    }

    #[test]
    fn options_override_the_defaults_and_bad_values_are_reported() {
        let rules = r#"[{"name": "r", "model_regex": ["^m$"], "user_agent_include": ["Curl"],
            "key_sources": [{"type": "request_header", "key": "x-s"}], "value_regex": "^[a-z]+$",
            "ttl_seconds": 5, "include_model_name": true, "param_override_template": {}}]"#;
        let (setting, problems) = Setting::from_options([
            (ENABLED, "false"),
            (MAX_ENTRIES, "10.0"),
            (DEFAULT_TTL_SECONDS, "0"),
            (RULES, rules),
            (SWITCH_ON_SUCCESS, "maybe"),
            ("SystemName", "x"),
        ]);
        assert!(!setting.enabled);
        assert!(setting.switch_on_success);
        assert_eq!(setting.max_entries, 10);
        assert_eq!(setting.default_ttl, Duration::from_secs(3600));
        assert_eq!(problems.len(), 1, "{problems:?}");
        let rule = &setting.rules[0];
        assert_eq!(setting.ttl(rule), Duration::from_secs(5));
        assert!(rule.applies("m", "/any", "curl/8.0"));
        assert!(!rule.applies("m", "/any", "python"));
        assert!(rule.accepts("abc") && !rule.accepts("ABC"));
        assert_eq!(rule.cache_key("m", "g", "v"), "m:v");
    }

    #[test]
    fn malformed_rules_are_refused_with_the_reason() {
        let refused = |rules: &str| check(RULES, rules).expect_err(rules);
        assert!(refused("{").contains("JSON array"));
        assert!(refused(r#"[{"name": "", "key_sources": []}]"#).contains("name"));
        assert!(refused(r#"[{"name": "r", "key_sources": []}]"#).contains("key_sources"));
        let bad_regex = r#"[{"name": "r", "model_regex": ["("],
            "key_sources": [{"type": "gjson", "path": "a"}]}]"#;
        assert!(refused(bad_regex).contains("invalid"));
        let bad_type = r#"[{"name": "r", "key_sources": [{"type": "cookie", "key": "a"}]}]"#;
        assert!(refused(bad_type).contains("cookie"));
        let no_key = r#"[{"name": "r", "key_sources": [{"type": "request_header"}]}]"#;
        assert!(refused(no_key).contains("needs a key"));
        let negative = r#"[{"name": "r", "ttl_seconds": -1,
            "key_sources": [{"type": "gjson", "path": "a"}]}]"#;
        assert!(refused(negative).contains("negative"));
        assert!(check(MAX_ENTRIES, "-1").is_err());
        assert!(check(MAX_ENTRIES, "1.5").is_err());
        assert!(check(ENABLED, "yes").is_err());
        assert_eq!(check("SystemName", "anything"), Ok(()));
    }
}
