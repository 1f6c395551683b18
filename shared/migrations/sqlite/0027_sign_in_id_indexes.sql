-- new-api's built-in sign-ins (GitHub, Discord, OIDC, WeChat, Telegram, LinuxDO) find the
-- account of a provider's id in its own `users` column on every sign-in; without an index
-- each one reads the whole table. Not unique: older data may repeat an id, and '' (no
-- binding) is shared by most rows.
CREATE INDEX idx_users_github_id ON users (github_id);
CREATE INDEX idx_users_discord_id ON users (discord_id);
CREATE INDEX idx_users_oidc_id ON users (oidc_id);
CREATE INDEX idx_users_wechat_id ON users (wechat_id);
CREATE INDEX idx_users_telegram_id ON users (telegram_id);
CREATE INDEX idx_users_linux_do_id ON users (linux_do_id);
