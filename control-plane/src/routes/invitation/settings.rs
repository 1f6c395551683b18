//! Whether registering needs an invitation code, and for which ways of registering: the options
//! `InvitationCodeRequired` (`true`/`false`) and `InvitationCodeMethods` (a JSON array of
//! new-api's method names), written together by `PUT /api/option/invitation-code`
//! `{"required": bool, "methods": [...]}` and never one at a time (`PUT /api/option/` refuses
//! them), so that the pair in force is always one an administrator submitted. `/api/status`
//! shows them as `invitation_code_required` and `invitation_code_methods`.
//!
//! Pylon registers with a password (`password`), through OIDC (`oidc`), GitHub, Discord,
//! LinuxDO and WeChat (`github`, `discord`, `linuxdo`, `wechat`) and custom OAuth providers
//! (`custom_oauth`); an external sign-up that needs a code is refused, as its flow carries none.

use crate::app::AppState;
use crate::auth::RootUser;
use crate::envelope;
use crate::error::{ApiError, ApiResult};
use crate::extract::ApiJson;
use crate::settings::Options;
use axum::extract::State;
use pylon_shared::db::OptionSwap;
use serde::{Deserialize, Serialize};
use serde_json::Value;

pub const REQUIRED_KEY: &str = "InvitationCodeRequired";
pub const METHODS_KEY: &str = "InvitationCodeMethods";
/// Registering with a username and password.
pub const METHOD_PASSWORD: &str = "password";
/// Signing up through the OIDC provider.
pub const METHOD_OIDC: &str = "oidc";
/// new-api's registration methods.
const METHODS: &[&str] = &[
    METHOD_PASSWORD,
    "github",
    "discord",
    "linuxdo",
    METHOD_OIDC,
    "custom_oauth",
    "wechat",
];

/// The settings in force.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InvitationSettings {
    pub required: bool,
    /// Sorted, without repeats.
    pub methods: Vec<String>,
}

impl InvitationSettings {
    /// The settings of `options` (methods that do not read as a list count as none).
    pub fn of(options: &Options) -> Self {
        let methods = serde_json::from_str::<Vec<String>>(options.text(METHODS_KEY))
            .ok()
            .and_then(|methods| normalized(&methods).ok())
            .unwrap_or_default();
        Self {
            required: options.flag(REQUIRED_KEY),
            methods,
        }
    }

    /// Whether registering by `method` needs a code.
    pub fn requires(&self, method: &str) -> bool {
        self.required && self.methods.iter().any(|m| m == method)
    }
}

/// `methods` lower-cased, trimmed, sorted and without repeats; an unknown one is refused.
fn normalized(methods: &[String]) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    for method in methods {
        let method = method.trim().to_lowercase();
        if !METHODS.contains(&method.as_str()) {
            return Err(format!(
                "unsupported invitation registration method: {method}"
            ));
        }
        out.push(method);
    }
    out.sort();
    out.dedup();
    Ok(out)
}

/// Whether `key` names one of these options however it is spelled (case, separators), which
/// only this route may write.
pub fn is_invitation_key(key: &str) -> bool {
    let folded: String = key
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect();
    folded == "invitationcoderequired" || folded == "invitationcodemethods"
}

#[derive(Deserialize)]
pub struct SettingsRequest {
    #[serde(default)]
    required: Value,
    #[serde(default)]
    methods: Value,
}

pub async fn update(
    State(app): State<AppState>,
    RootUser(root): RootUser,
    ApiJson(request): ApiJson<SettingsRequest>,
) -> ApiResult {
    let (Value::Bool(required), Value::Array(methods)) = (request.required, request.methods) else {
        return Err(ApiError::invalid(
            "Invalid parameters: required (true or false) and methods (a list) are both needed",
        ));
    };
    let methods: Vec<String> = methods
        .into_iter()
        .map(|m| match m {
            Value::String(text) => Ok(text),
            other => Err(ApiError::invalid(format!(
                "Invalid parameters: method {other} is not a name"
            ))),
        })
        .collect::<Result<_, _>>()?;
    let methods = normalized(&methods).map_err(ApiError::invalid)?;
    if required && methods.is_empty() {
        return Err(ApiError::invalid(
            "At least one registration method is needed when invitation codes are required",
        ));
    }
    let settings = InvitationSettings { required, methods };
    let methods_text =
        serde_json::to_string(&settings.methods).map_err(|e| ApiError::Internal(e.into()))?;
    let required_text = settings.required.to_string();
    let current = app.settings.now();
    let swaps = [
        OptionSwap {
            key: REQUIRED_KEY,
            old: current.get(REQUIRED_KEY),
            new: &required_text,
        },
        OptionSwap {
            key: METHODS_KEY,
            old: current.get(METHODS_KEY),
            new: &methods_text,
        },
    ];
    if !app.settings.swap(&app.db, &app.changes, &swaps).await? {
        return Err(ApiError::invalid(
            "The invitation settings were changed meanwhile; read them again and retry",
        ));
    }
    tracing::info!(
        root = root.user.id,
        ?settings,
        "invitation settings updated"
    );
    Ok(envelope::ok(settings))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_read_leniently_and_apply_per_method() {
        let options = Options::from_pairs([
            (REQUIRED_KEY, "true"),
            (METHODS_KEY, r#"[" Password ", "oidc", "password"]"#),
        ]);
        let settings = InvitationSettings::of(&options);
        assert_eq!(settings.methods, vec!["oidc", "password"]);
        assert!(settings.requires(METHOD_PASSWORD));
        assert!(!settings.requires("github"));
        let off = InvitationSettings::of(&Options::default());
        assert!(!off.required);
        assert_eq!(off.methods, vec!["linuxdo"]);
        assert!(!off.requires("linuxdo"));
        let broken = Options::from_pairs([(REQUIRED_KEY, "true"), (METHODS_KEY, "{")]);
        assert!(!InvitationSettings::of(&broken).requires(METHOD_PASSWORD));
        assert!(normalized(&["ftp".to_string()]).is_err());
    }

    #[test]
    fn every_spelling_of_the_keys_is_recognised() {
        for key in [
            "InvitationCodeRequired",
            "invitationcoderequired",
            " INVITATIONCODEMETHODS ",
            "Invitation.Code.Required",
            "Invitation_Code_Methods",
        ] {
            assert!(is_invitation_key(key), "{key}");
        }
        assert!(!is_invitation_key("RegisterEnabled"));
    }
}
