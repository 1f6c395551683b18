-- identical to ../mysql/0026_custom_oauth_providers.sql but for the id columns and table options.

-- new-api's custom OAuth providers: sign-in providers the root defines at run time, each
-- reached at `/api/oauth/{slug}` (authorization code flow, `kind` oauth_code), at
-- `/api/auth/external/{slug}/jwt/login` (a signed JWT, jwt_direct) or at
-- `/api/auth/external/{slug}/header/login` (headers set by a trusted proxy, trusted_header).
-- client_secret is sealed with the key encryption secret (empty: none); `settings` is the
-- rest of the provider's configuration in new-api's field names (endpoints, field mappings,
-- JWT verification, trusted headers, access policy), a JSON object the control plane
-- validates on every write. enabled: 0 or 1.
CREATE TABLE custom_oauth_providers (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    name           VARCHAR(64)  NOT NULL,
    slug           VARCHAR(64)  NOT NULL,
    kind           VARCHAR(32)  NOT NULL DEFAULT 'oauth_code',
    enabled        BIGINT       NOT NULL DEFAULT 0,
    client_id      VARCHAR(256) NOT NULL DEFAULT '',
    client_secret  TEXT         NOT NULL DEFAULT '',
    settings       TEXT         NOT NULL DEFAULT '',
    created_at     BIGINT       NOT NULL DEFAULT 0,
    updated_at     BIGINT       NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX uq_custom_oauth_providers_slug ON custom_oauth_providers (slug);

-- Which account a custom provider's user signs in as: one provider account per user and
-- provider, and one user per provider account.
CREATE TABLE user_oauth_bindings (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id           BIGINT       NOT NULL,
    provider_id       BIGINT       NOT NULL,
    provider_user_id  VARCHAR(256) NOT NULL,
    created_at        BIGINT       NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX uq_user_oauth_bindings_identity ON user_oauth_bindings (provider_id, provider_user_id);
CREATE UNIQUE INDEX uq_user_oauth_bindings_user ON user_oauth_bindings (user_id, provider_id);
