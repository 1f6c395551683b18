//! A custom provider as the root configures it, in new-api's field names: its identity (name,
//! slug, kind, switch, client id and secret, stored as columns) and the rest of its settings
//! (endpoints, field mappings, JWT verification, trusted headers, access policy), stored as one
//! JSON document. The client secret is sealed at rest and never leaves the server: answers
//! omit it, as new-api's do.

use super::validate;
use crate::app::App;
use crate::error::ApiError;
use pylon_shared::crypto;
use pylon_shared::db::{CustomOAuthProviderFields, CustomOAuthProviderRow};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// How a provider signs people in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The authorization code flow: `GET /api/oauth/{slug}?code=&state=`.
    OAuthCode,
    /// A signed JWT the browser brings back: `POST /api/auth/external/{slug}/jwt/login`.
    JwtDirect,
    /// Headers a trusted proxy sets: `POST /api/auth/external/{slug}/header/login`.
    TrustedHeader,
}

impl Kind {
    /// The kind named `name` (new-api's spelling; empty is the default, `oauth_code`).
    pub fn parse(name: &str) -> Option<Self> {
        match name.trim() {
            "" | "oauth_code" => Some(Kind::OAuthCode),
            "jwt_direct" => Some(Kind::JwtDirect),
            "trusted_header" => Some(Kind::TrustedHeader),
            _ => None,
        }
    }

    /// new-api's name of the kind.
    pub fn name(self) -> &'static str {
        match self {
            Kind::OAuthCode => "oauth_code",
            Kind::JwtDirect => "jwt_direct",
            Kind::TrustedHeader => "trusted_header",
        }
    }
}

/// The settings kept as JSON, with new-api's field names and types.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    pub icon: String,
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    pub user_info_endpoint: String,
    pub scopes: String,
    pub issuer: String,
    pub audience: String,
    pub jwks_url: String,
    pub public_key: String,
    pub jwt_source: String,
    pub jwt_header: String,
    pub jwt_identity_mode: String,
    pub jwt_acquire_mode: String,
    pub trusted_proxy_cidrs: String,
    pub external_id_header: String,
    pub username_header: String,
    pub display_name_header: String,
    pub email_header: String,
    pub group_header: String,
    pub role_header: String,
    pub authorization_service_field: String,
    pub ticket_exchange_url: String,
    pub ticket_exchange_method: String,
    pub ticket_exchange_payload_mode: String,
    pub ticket_exchange_ticket_field: String,
    pub ticket_exchange_token_field: String,
    pub ticket_exchange_service_field: String,
    pub ticket_exchange_extra_params: String,
    pub ticket_exchange_headers: String,
    pub user_id_field: String,
    pub username_field: String,
    pub display_name_field: String,
    pub email_field: String,
    pub group_field: String,
    pub role_field: String,
    pub group_mapping: String,
    pub role_mapping: String,
    pub auto_register: bool,
    pub auto_merge_by_email: bool,
    pub sync_username_on_login: bool,
    pub sync_display_name_on_login: bool,
    pub sync_email_on_login: bool,
    pub sync_group_on_login: bool,
    pub sync_role_on_login: bool,
    pub group_mapping_mode: String,
    pub role_mapping_mode: String,
    pub well_known: String,
    /// 0 auto (parameters), 1 parameters, 2 HTTP Basic.
    pub auth_style: i64,
    pub access_policy: String,
    pub access_denied_message: String,
}

/// A provider as the root writes it: every field, before validation.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Draft {
    pub name: String,
    pub slug: String,
    pub kind: String,
    pub enabled: bool,
    pub client_id: String,
    /// In clear; empty keeps the stored one on an update.
    pub client_secret: String,
    #[serde(flatten)]
    pub settings: Settings,
}

/// A stored provider, its secret opened.
#[derive(Debug, Clone)]
pub struct Provider {
    pub id: i64,
    pub name: String,
    pub slug: String,
    pub kind: Kind,
    pub enabled: bool,
    pub client_id: String,
    pub client_secret: String,
    pub settings: Settings,
}

/// The type a field of a request must have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FieldType {
    Text,
    Flag,
    Integer,
}

/// Every field a request may set, and its type; other keys are ignored, as new-api does.
const FIELDS: &[(&str, FieldType)] = &[
    ("name", FieldType::Text),
    ("slug", FieldType::Text),
    ("kind", FieldType::Text),
    ("enabled", FieldType::Flag),
    ("client_id", FieldType::Text),
    ("client_secret", FieldType::Text),
    ("icon", FieldType::Text),
    ("authorization_endpoint", FieldType::Text),
    ("token_endpoint", FieldType::Text),
    ("user_info_endpoint", FieldType::Text),
    ("scopes", FieldType::Text),
    ("issuer", FieldType::Text),
    ("audience", FieldType::Text),
    ("jwks_url", FieldType::Text),
    ("public_key", FieldType::Text),
    ("jwt_source", FieldType::Text),
    ("jwt_header", FieldType::Text),
    ("jwt_identity_mode", FieldType::Text),
    ("jwt_acquire_mode", FieldType::Text),
    ("trusted_proxy_cidrs", FieldType::Text),
    ("external_id_header", FieldType::Text),
    ("username_header", FieldType::Text),
    ("display_name_header", FieldType::Text),
    ("email_header", FieldType::Text),
    ("group_header", FieldType::Text),
    ("role_header", FieldType::Text),
    ("authorization_service_field", FieldType::Text),
    ("ticket_exchange_url", FieldType::Text),
    ("ticket_exchange_method", FieldType::Text),
    ("ticket_exchange_payload_mode", FieldType::Text),
    ("ticket_exchange_ticket_field", FieldType::Text),
    ("ticket_exchange_token_field", FieldType::Text),
    ("ticket_exchange_service_field", FieldType::Text),
    ("ticket_exchange_extra_params", FieldType::Text),
    ("ticket_exchange_headers", FieldType::Text),
    ("user_id_field", FieldType::Text),
    ("username_field", FieldType::Text),
    ("display_name_field", FieldType::Text),
    ("email_field", FieldType::Text),
    ("group_field", FieldType::Text),
    ("role_field", FieldType::Text),
    ("group_mapping", FieldType::Text),
    ("role_mapping", FieldType::Text),
    ("auto_register", FieldType::Flag),
    ("auto_merge_by_email", FieldType::Flag),
    ("sync_username_on_login", FieldType::Flag),
    ("sync_display_name_on_login", FieldType::Flag),
    ("sync_email_on_login", FieldType::Flag),
    ("sync_group_on_login", FieldType::Flag),
    ("sync_role_on_login", FieldType::Flag),
    ("group_mapping_mode", FieldType::Text),
    ("role_mapping_mode", FieldType::Text),
    ("well_known", FieldType::Text),
    ("auth_style", FieldType::Integer),
    ("access_policy", FieldType::Text),
    ("access_denied_message", FieldType::Text),
];

/// Fields an answer never carries: the secret, and the ticket exchange's extra parameters and
/// headers (which may hold credentials), as new-api leaves them out.
const HIDDEN: &[&str] = &[
    "client_secret",
    "ticket_exchange_extra_params",
    "ticket_exchange_headers",
];

impl Draft {
    /// A new provider from a request body (a JSON object): the fields it sets, the rest
    /// new-api's defaults.
    pub fn from_request(body: &Value) -> Result<Self, ApiError> {
        Self::merged(Map::new(), body)
    }

    /// `provider` with the fields a request body sets changed (new-api's update: a field
    /// absent or null keeps its value, and so does an empty client secret).
    pub fn updated(provider: &Provider, body: &Value) -> Result<Self, ApiError> {
        let current = provider.draft();
        let Value::Object(base) = serde_json::to_value(&current).map_err(internal)? else {
            return Err(ApiError::Internal(anyhow::anyhow!("a draft is an object")));
        };
        let mut draft = Self::merged(base, body)?;
        if draft.client_secret.is_empty() {
            draft.client_secret = provider.client_secret.clone();
        }
        Ok(draft)
    }

    fn merged(mut base: Map<String, Value>, body: &Value) -> Result<Self, ApiError> {
        let Value::Object(fields) = body else {
            return Err(ApiError::invalid(
                "Invalid parameters: the body must be a JSON object",
            ));
        };
        for (key, value) in fields {
            let Some((_, kind)) = FIELDS.iter().find(|(name, _)| name == key) else {
                continue;
            };
            let fits = match (kind, value) {
                (_, Value::Null) => continue,
                (FieldType::Text, Value::String(_)) | (FieldType::Flag, Value::Bool(_)) => true,
                (FieldType::Integer, Value::Number(n)) => n.is_i64(),
                _ => false,
            };
            if !fits {
                let wanted = match kind {
                    FieldType::Text => "a string",
                    FieldType::Flag => "true or false",
                    FieldType::Integer => "an integer",
                };
                return Err(ApiError::invalid(format!(
                    "Invalid parameters: {key} must be {wanted}"
                )));
            }
            base.insert(key.clone(), value.clone());
        }
        serde_json::from_value(Value::Object(base))
            .map_err(|e| ApiError::invalid(format!("Invalid parameters: {e}")))
    }

    /// Checks every field and normalizes them as new-api does (see [`validate`]).
    pub fn validate(&mut self) -> Result<Kind, ApiError> {
        validate::draft(self)
    }

    /// The columns to store: the secret sealed with `encryption_secret`, the settings as JSON.
    pub fn stored(&self, kind: Kind, encryption_secret: &str) -> Result<StoredDraft, ApiError> {
        let client_secret = if self.client_secret.is_empty() {
            String::new()
        } else {
            crypto::seal(encryption_secret, &self.client_secret)
        };
        Ok(StoredDraft {
            name: self.name.clone(),
            slug: self.slug.clone(),
            kind,
            enabled: self.enabled,
            client_id: self.client_id.clone(),
            client_secret,
            settings: serde_json::to_string(&self.settings).map_err(internal)?,
        })
    }
}

/// A validated draft as it is stored.
pub struct StoredDraft {
    name: String,
    slug: String,
    kind: Kind,
    enabled: bool,
    client_id: String,
    client_secret: String,
    settings: String,
}

impl StoredDraft {
    /// The row's fields.
    pub fn fields(&self) -> CustomOAuthProviderFields<'_> {
        CustomOAuthProviderFields {
            name: &self.name,
            slug: &self.slug,
            kind: self.kind.name(),
            enabled: self.enabled,
            client_id: &self.client_id,
            client_secret: &self.client_secret,
            settings: &self.settings,
        }
    }
}

impl Provider {
    /// A stored row, its secret opened. A row written by hand with an unknown kind or
    /// unreadable settings still lists (as an `oauth_code` provider with new-api's defaults)
    /// but cannot sign anyone in: its endpoints are empty.
    pub fn from_row(app: &App, row: CustomOAuthProviderRow) -> Self {
        let settings = serde_json::from_str(&row.settings).unwrap_or_else(|error| {
            tracing::warn!(provider = row.id, %error, "unreadable custom OAuth provider settings");
            Settings::default()
        });
        let client_secret = if row.client_secret.is_empty() {
            String::new()
        } else {
            crypto::open(&app.secrets.key_encryption, &row.client_secret).unwrap_or_else(|| {
                // Sealed under another key encryption secret: the provider will refuse it.
                tracing::warn!(
                    provider = row.id,
                    "custom OAuth client secret cannot be opened"
                );
                String::new()
            })
        };
        Self {
            id: row.id,
            name: row.name,
            slug: row.slug,
            kind: Kind::parse(&row.kind).unwrap_or(Kind::OAuthCode),
            enabled: row.enabled != 0,
            client_id: row.client_id,
            client_secret,
            settings,
        }
    }

    /// Provider `id`.
    pub async fn load(app: &App, id: i64) -> Result<Option<Self>, ApiError> {
        Ok(app
            .db
            .custom_oauth_provider(id)
            .await?
            .map(|row| Self::from_row(app, row)))
    }

    /// The provider whose slug is `slug`.
    pub async fn by_slug(app: &App, slug: &str) -> Result<Option<Self>, ApiError> {
        Ok(app
            .db
            .custom_oauth_provider_by_slug(slug)
            .await?
            .map(|row| Self::from_row(app, row)))
    }

    /// The provider as a draft (for an update).
    fn draft(&self) -> Draft {
        Draft {
            name: self.name.clone(),
            slug: self.slug.clone(),
            kind: self.kind.name().to_string(),
            enabled: self.enabled,
            client_id: self.client_id.clone(),
            client_secret: String::new(),
            settings: self.settings.clone(),
        }
    }

    /// The provider as new-api's admin answers render it: every field but the hidden ones.
    pub fn view(&self) -> Value {
        let mut view = match serde_json::to_value(self.draft()) {
            Ok(Value::Object(fields)) => fields,
            _ => Map::new(),
        };
        for hidden in HIDDEN {
            view.remove(*hidden);
        }
        view.insert("id".into(), Value::from(self.id));
        Value::Object(view)
    }

    /// The provider as `GET /api/status` lists it for the login page.
    pub fn public_view(&self) -> Value {
        serde_json::json!({
            "id": self.id,
            "name": self.name,
            "slug": self.slug,
            "icon": self.settings.icon,
            "client_id": self.client_id,
            "authorization_endpoint": self.settings.authorization_endpoint,
            "scopes": self.settings.scopes,
        })
    }
}

fn internal(error: serde_json::Error) -> ApiError {
    ApiError::Internal(error.into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_request_field_is_a_draft_field() {
        let draft = serde_json::to_value(Draft::default()).unwrap();
        let names: Vec<&str> = draft
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        for (field, _) in FIELDS {
            assert!(names.contains(field), "{field} is not stored");
        }
        assert_eq!(names.len(), FIELDS.len());
    }

    #[test]
    fn requests_set_only_known_fields_of_the_right_type() {
        let draft = Draft::from_request(&json!({
            "name": "Corp", "slug": "corp", "enabled": true, "auth_style": 2,
            "unknown": 5, "icon": null
        }))
        .unwrap();
        assert_eq!(draft.name, "Corp");
        assert!(draft.enabled);
        assert_eq!(draft.settings.auth_style, 2);
        for (body, message) in [
            (json!({"name": 5}), "name must be a string"),
            (json!({"enabled": "yes"}), "enabled must be true or false"),
            (json!({"auth_style": 1.5}), "auth_style must be an integer"),
            (json!([1]), "must be a JSON object"),
        ] {
            let refused = Draft::from_request(&body).unwrap_err();
            assert!(
                matches!(&refused, ApiError::Invalid(m) if m.contains(message)),
                "{refused:?}"
            );
        }
    }
}
