//! The route table: every path the control plane serves, with its method, who may call it and
//! the handler, in one place. Read it to answer "which handler serves `DELETE /api/user/5/2fa`,
//! and who may call it?". Access is enforced on every call by the table's guard
//! (`crate::auth::guard`) before the handler runs; handlers only read the user it found.
//!
//! Paths are spelled as new-api spells them (`/api/token/` with its trailing slash); a request
//! is served with or without the trailing slash, except where new-api routes the two spellings
//! apart ([`SLASH_DISTINCT`]). `{id}` is a positive integer: any other
//! segment there is an unknown route (404). The snapshot test at the end lists every entry,
//! so a route cannot appear, vanish or change its access unnoticed.
//!
//! To add a route: write its handler in `routes/<resource>/<action>.rs` (take the caller with
//! `AuthUser`/`AdminUser`/`RootUser`, ids with `PathId`, pages with `Page`), add one line here
//! and the same line to `table.snapshot`. `tests/tests/routes.rs` then checks its access over
//! HTTP on both backends.

use super::{
    account, announcement, audit, channel, channel_model, commission, content, custom_oauth, data,
    deployment, export, group, health, invitation, log, metadata_sync, metrics, midjourney, model,
    model_sync, oidc, option, order, passkey, payment, payment_orders, perf, performance, plan,
    prefill_group, price_sync, pricing, public, rankings, redemption, secure_verification, setup,
    shop, social, stats, status, status_monitor, subscription, system_info, task, token, topup,
    two_factor, usage, user, user_admin, user_channel, vendor,
};
use crate::app::AppState;
use crate::auth::AuthUser;
use crate::auth::guard::Access::{self, Admin, Public, Root, User};
use axum::Router;
use axum::extract::{ConnectInfo, Request};
use axum::handler::Handler;
use axum::routing::{MethodFilter, MethodRouter};
use std::net::SocketAddr;

/// Every route, in the order a reader looks for them: public, then by resource.
#[rustfmt::skip]
pub fn routes() -> Vec<Route> {
    vec![
        // Process and site.
        get("/health", Public, health::health),
        get("/metrics", Public, metrics::metrics),
        get("/api/status", Public, status::status),
        get("/api/status/test", Admin, health::status_test),
        // The status monitors in new-api's Uptime Kuma shape.
        get("/api/uptime/status", Public, status_monitor::uptime::status),
        get("/api/setup", Public, setup::get_setup),
        post("/api/setup", Public, setup::post_setup),
        get("/api/setup/status", Public, setup::get_setup),
        get("/api/notice", Public, content::notice),
        get("/api/about", Public, content::about),
        get("/api/home_page_content", Public, content::home_page_content),
        get("/api/user-agreement", Public, content::user_agreement),
        get("/api/privacy-policy", Public, content::privacy_policy),
        get("/api/pricing", Public, pricing::pricing),
        // Performance per model from the hourly aggregates (new-api shows them with pricing).
        get("/api/perf-metrics/summary", Public, perf::metrics::summary),
        get("/api/perf-metrics", Public, perf::metrics::model),
        get("/api/rankings", Public, rankings::rankings),
        // Seed 001's public console data.
        get("/api/public/settings", Public, public::settings::settings),
        get("/api/public/models", Public, public::models::models),
        get("/api/public/announcements", Public, announcement::list::public),
        get("/api/public/status", Public, status_monitor::public::status),
        // Signing up and in (no session yet).
        post("/api/user/register", Public, account::register::register),
        get("/api/verification", Public, account::send_verification::send_verification),
        get("/api/reset_password", Public, account::send_reset::send_reset),
        post("/api/user/reset", Public, account::reset::reset),
        post("/api/user/login", Public, user::login::login),
        post("/api/user/login/2fa", Public, two_factor::login::login_2fa),
        get("/api/user/login/email", Public, account::send_login_code::send_login_code),
        post("/api/user/login/email", Public, account::email_login::email_login),
        // Seed 004's email-code login, for the clients written against it.
        get("/api/send_sms", Public, account::send_login_code::send_sms),
        post("/api/login", Public, account::email_login::login_alias),
        post("/api/user/passkey/login/begin", Public, passkey::login_begin::begin),
        post("/api/user/passkey/login/finish", Public, passkey::login_finish::finish),
        // OIDC: a signed-in caller's flow binds instead of signing in.
        get("/api/oauth/state", Public, oidc::state::state),
        get("/api/oauth/oidc/start", Public, oidc::start::start),
        get("/auth/login", Public, oidc::start::redirect),
        get("/api/oauth/oidc", Public, oidc::callback::callback),
        get("/auth/callback", Public, oidc::callback::callback),
        // new-api's built-in sign-ins (GitHub, Discord and LinuxDO bind while the state's
        // session is signed in; WeChat and Telegram bind through their own routes), and binding
        // an email address. These fixed paths win over the custom providers' slugs below.
        get("/api/oauth/github", Public, social::callback::github),
        get("/api/oauth/discord", Public, social::callback::discord),
        get("/api/oauth/linuxdo", Public, social::callback::linuxdo),
        get("/api/oauth/wechat", Public, social::wechat::login),
        post("/api/oauth/wechat/bind", User, social::wechat::bind),
        get("/api/oauth/telegram/login", Public, social::telegram::login),
        // The widget sends the browser here: the session cookie names the user, as in new-api.
        get("/api/oauth/telegram/bind", Public, social::telegram::bind),
        post("/api/oauth/email/bind", User, account::email_bind::bind),
        // Custom OAuth providers (new-api's): the callback by slug (the fixed paths above win),
        // and the JWT and trusted header logins.
        get("/api/oauth/{provider}", Public, custom_oauth::callback::callback),
        post("/api/auth/external/{provider}/jwt/login", Public, custom_oauth::jwt_login::login),
        post("/api/auth/external/{provider}/header/login", Public, custom_oauth::header_login::login),
        // Ends the session in the cookie, if any.
        get("/api/user/logout", Public, user::logout::logout),
        // The caller's groups when signed in, the sign-up groups otherwise.
        get("/api/user/groups", Public, user::groups::public),
        // Authenticated by the `sk-` key itself.
        get("/api/usage/token/", Public, token::usage::usage),
        options("/api/usage/token/", Public, token::usage::preflight),
        get("/api/log/token", Public, log::by_key::by_key),
        options("/api/log/token", Public, log::by_key::preflight),
        // The signed-in user's own account.
        get("/api/user/self", User, user::self_info::get_self),
        put("/api/user/self", User, user::self_update::update),
        delete("/api/user/self", User, user::self_delete::delete),
        get("/api/user/self/groups", User, user::groups::own),
        get("/api/user/token", User, user::access_token::generate),
        get("/api/user/models", User, user::models::list),
        put("/api/user/setting", User, user::setting::update),
        get("/api/user/aff", User, user::aff::get),
        post("/api/user/aff_transfer", User, user::aff_transfer::transfer),
        get("/api/user/checkin", User, user::checkin_status::status),
        post("/api/user/checkin", User, user::checkin::check_in),
        post("/api/user/check-in", User, user::checkin::check_in),
        get("/api/user/check-in/status", User, user::checkin_status::status),
        get("/api/user/check-in/records", User, user::checkin_records::list),
        post("/api/user/oidc/bind-url", User, oidc::bind_url::bind_url),
        get("/api/user/oauth/bindings", User, custom_oauth::bindings::list),
        delete("/api/user/oauth/bindings/{provider_id}", User, custom_oauth::bindings::unbind),
        // Two-factor authentication.
        get("/api/user/2fa/status", User, two_factor::status::status),
        post("/api/user/2fa/setup", User, two_factor::setup::setup),
        post("/api/user/2fa/enable", User, two_factor::enable::enable),
        post("/api/user/2fa/disable", User, two_factor::disable::disable),
        post("/api/user/2fa/backup_codes", User, two_factor::backup_codes::regenerate),
        get("/api/user/2fa/stats", Admin, two_factor::stats::stats),
        // new-api's secure verification before a sensitive action (viewing channel keys).
        post("/api/verify", User, secure_verification::verify),
        delete("/api/user/{id}/2fa", Admin, two_factor::admin_reset::reset),
        // Passkeys.
        get("/api/user/passkey", User, passkey::status::status),
        delete("/api/user/passkey", User, passkey::delete::delete_all),
        delete("/api/user/passkey/{id}", User, passkey::delete::delete_one),
        get("/api/user/passkeys", User, passkey::list::list),
        delete("/api/user/passkeys/{id}", User, passkey::delete::delete_one),
        post("/api/user/passkey/register/begin", User, passkey::register_begin::begin),
        post("/api/user/passkey/register/finish", User, passkey::register_finish::finish),
        post("/api/user/passkey/verify/begin", User, passkey::verify_begin::begin),
        post("/api/user/passkey/verify/finish", User, passkey::verify_finish::finish),
        delete("/api/user/{id}/reset_passkey", Admin, passkey::admin_reset::reset),
        // Users, for administrators.
        get("/api/user/", Admin, user_admin::list::list),
        post("/api/user/", Admin, user_admin::create::create),
        put("/api/user/", Admin, user_admin::update::update),
        get("/api/user/search", Admin, user_admin::search::search),
        post("/api/user/manage", Admin, user_admin::manage::manage),
        get("/api/user/{id}", Admin, user_admin::get::get),
        delete("/api/user/{id}", Admin, user_admin::delete::delete),
        delete("/api/user/{id}/bindings/{binding_type}", Admin, user_admin::clear_binding::clear),
        get("/api/user/{id}/oauth/bindings", Admin, user_admin::oauth_bindings::list),
        delete("/api/user/{id}/oauth/bindings/{provider_id}", Admin, user_admin::oauth_bindings::unbind),
        // API keys.
        get("/api/token/", User, token::list::list),
        post("/api/token/", User, token::create::create),
        put("/api/token/", User, token::update::update),
        get("/api/token/search", User, token::search::search),
        post("/api/token/batch", User, token::batch_delete::batch_delete),
        post("/api/token/batch/keys", User, token::batch_keys::batch_keys),
        get("/api/token/{id}", User, token::get::get),
        delete("/api/token/{id}", User, token::delete::delete),
        post("/api/token/{id}/key", User, token::reveal::reveal),
        // Logs.
        get("/api/log/", Admin, log::list::all),
        get("/api/log/self", User, log::list::own),
        get("/api/log/stat", Admin, log::stat::all),
        get("/api/log/self/stat", User, log::stat::own),
        get("/api/log/search", Admin, log::search::all),
        get("/api/log/self/search", User, log::search::own),
        delete("/api/log/", Admin, log::delete::delete),
        // Asynchronous tasks (OpenAI videos the relay created).
        get("/api/task/", Admin, task::list::all),
        get("/api/task/self", User, task::list::own),
        // Midjourney tasks (the relay's `/mj/*` created them).
        get("/api/mj/", Admin, midjourney::list::all),
        get("/api/mj/self", User, midjourney::list::own),
        // midjourney-proxy's callback (the proxy forwards it here): asks the task's channel.
        post("/mj/notify", Public, midjourney::notify::notify),
        // Finished requests the settlement writer set aside (rows the database refused).
        get("/api/log/dead_letters", Admin, log::dead_letters::list),
        // Usage of one channel affinity key (new-api's; the counters are pylon-proxy's).
        get("/api/log/channel_affinity_usage_cache", Admin, log::channel_affinity_usage::usage),
        // Seed 001's statistics and log lists (the log lists are the routes above).
        get("/api/stats", Admin, stats::overview::overview),
        get("/api/channel-usage", Admin, stats::channel_usage::channel_usage),
        get("/api/logs", Admin, log::list::all),
        get("/api/user/stats", User, stats::own::own),
        get("/api/user/logs", User, log::list::own),
        // Seed 002's usage and system statistics, seed 004's points ledger.
        get("/api/usage/stats", User, usage::stats::stats),
        get("/api/usage/log", User, log::list::own),
        get("/api/admin/stats", Admin, usage::admin_stats::stats),
        get("/api/turnover", User, shop::turnover::list),
        // Dashboard data (new-api's `/api/data/`), from the per-hour usage aggregates.
        get("/api/data/", Admin, data::quota::all),
        get("/api/data/self", User, data::quota::own),
        get("/api/data/users", Admin, data::quota::users),
        // Channels.
        get("/api/channel/", Admin, channel::list::list),
        post("/api/channel/", Admin, channel::create::create),
        put("/api/channel/", Admin, channel::update::update),
        get("/api/channel/search", Admin, channel::search::search),
        get("/api/channel/models", Admin, channel::models::models),
        get("/api/channel/models_enabled", Admin, channel::models_enabled::models_enabled),
        get("/api/channel/ops", Admin, channel::ops::ops),
        post("/api/channel/status/batch", Admin, channel::ops::set_status_batch),
        post("/api/channel/{id}/status", Admin, channel::ops::set_status),
        post("/api/channel/{id}/key", Root, channel::key::reveal),
        post("/api/channel/multi_key/manage", Admin, channel::multi_key::manage),
        post("/api/channel/tag/disabled", Admin, channel::tags::disable),
        post("/api/channel/tag/enabled", Admin, channel::tags::enable),
        get("/api/channel/tag/models", Admin, channel::tags::models),
        post("/api/channel/batch/tag", Admin, channel::tags::batch_tag),
        post("/api/channel/fix", Admin, channel::tags::fix),
        post("/api/channel/copy/{id}", Admin, channel::copy::copy),
        get("/api/channel/fetch_models/{id}", Admin, channel::fetch_models::fetch_models),
        post("/api/channel/fetch_models", Root, channel::fetch_models::fetch_unsaved),
        put("/api/channel/tag", Admin, channel::tag_edit::edit),
        // new-api's upstream model updates and Ollama helpers.
        post("/api/channel/upstream_updates/detect", Admin, channel::upstream_updates::detect::detect),
        post("/api/channel/upstream_updates/detect_all", Admin, channel::upstream_updates::detect::detect_all),
        post("/api/channel/upstream_updates/apply", Admin, channel::upstream_updates::apply::apply),
        post("/api/channel/upstream_updates/apply_all", Admin, channel::upstream_updates::apply::apply_all),
        post("/api/channel/ollama/pull", Admin, channel::ollama::pull),
        post("/api/channel/ollama/pull/stream", Admin, channel::ollama::pull_stream),
        delete("/api/channel/ollama/delete", Admin, channel::ollama::delete),
        get("/api/channel/ollama/version/{id}", Admin, channel::ollama::version),
        post("/api/channel/codex/oauth/start", Admin, channel::codex::oauth::start),
        post("/api/channel/codex/oauth/complete", Admin, channel::codex::oauth::complete),
        post("/api/channel/{id}/codex/oauth/start", Admin, channel::codex::oauth::start_for_channel),
        post("/api/channel/{id}/codex/oauth/complete", Admin, channel::codex::oauth::complete_for_channel),
        post("/api/channel/{id}/codex/refresh", Admin, channel::codex::refresh::refresh),
        get("/api/channel/{id}/codex/usage", Admin, channel::codex::usage::usage),
        get("/api/channel/test", Admin, channel::test_all::test_all),
        get("/api/channel/test/{id}", Admin, channel::test::test),
        get("/api/channel/update_balance", Admin, channel::update_balance_all::update_balance_all),
        get("/api/channel/update_balance/{id}", Admin, channel::update_balance::update_balance),
        delete("/api/channel/disabled", Admin, channel::delete_disabled::delete_disabled),
        post("/api/channel/batch", Admin, channel::delete_batch::delete_batch),
        get("/api/channel/{id}", Admin, channel::get::get),
        delete("/api/channel/{id}", Admin, channel::delete::delete),
        // Announcements (seed 001).
        get("/api/announcements", Admin, announcement::list::all),
        post("/api/announcements", Admin, announcement::manage::create),
        put("/api/announcements/{id}", Admin, announcement::manage::update),
        delete("/api/announcements/{id}", Admin, announcement::manage::delete),
        // new-api's system information pages.
        get("/api/system-info/instances", Root, system_info::instances),
        get("/api/system-task/list", Root, system_info::tasks),
        // The audit log of administrators' changes.
        get("/api/audit-log", Root, audit::list),
        // Exports (seed 002): the caller's data, and CSV downloads for administrators.
        get("/api/export/self", User, export::own::export),
        get("/api/export/users.csv", Admin, export::csv::users),
        get("/api/export/orders.csv", Admin, export::csv::orders),
        get("/api/export/usage.csv", Admin, export::csv::usage),
        get("/api/export/upstream_keys.csv", Admin, export::csv::upstream_keys),
        // Status monitors (seed 001).
        get("/api/status-monitors", Admin, status_monitor::manage::list),
        post("/api/status-monitors", Admin, status_monitor::manage::create),
        put("/api/status-monitors/{id}", Admin, status_monitor::manage::update),
        delete("/api/status-monitors/{id}", Admin, status_monitor::manage::delete),
        post("/api/status-monitors/{id}/check", Admin, status_monitor::check::check_now),
        // Groups and settings.
        get("/api/group/", Admin, group::list),
        // new-api's prefill groups: reusable lists of models, tags or endpoints.
        get("/api/prefill_group/", Admin, prefill_group::list),
        post("/api/prefill_group/", Admin, prefill_group::create),
        put("/api/prefill_group/", Admin, prefill_group::update),
        delete("/api/prefill_group/{id}", Admin, prefill_group::delete),
        // Seed 001's group records (stored in GroupRatio and UserUsableGroups; a name is an id).
        // Writing them writes prices, which are root's as every option is in new-api.
        get("/api/groups", Admin, group::manage::list),
        post("/api/groups", Admin, group::manage::create),
        put("/api/groups/{name}", Admin, group::manage::update),
        delete("/api/groups/{name}", Admin, group::manage::delete),
        // Model catalogue: new-api's model and vendor meta (also seed 001's /api/models). new-api
        // routes `GET /api/models` (no slash) apart: any user's list of models per channel type.
        get("/api/models", User, model::dashboard::by_channel_type),
        get("/api/models/", Admin, model::list::all),
        post("/api/models/", Admin, model::manage::create),
        put("/api/models/", Admin, model::manage::update),
        get("/api/models/search", Admin, model::list::search),
        get("/api/models/missing", Admin, model::missing::missing),
        // new-api's official model metadata sync (`routes::metadata_sync`).
        get("/api/models/sync_upstream/preview", Admin, metadata_sync::preview::preview),
        post("/api/models/sync_upstream", Admin, metadata_sync::apply::apply),
        get("/api/models/{id}", Admin, model::list::one),
        put("/api/models/{id}", Admin, model::manage::update_at),
        delete("/api/models/{id}", Admin, model::manage::delete),
        get("/api/vendors/", Admin, vendor::list::all),
        post("/api/vendors/", Admin, vendor::manage::create),
        put("/api/vendors/", Admin, vendor::manage::update),
        get("/api/vendors/search", Admin, vendor::list::search),
        get("/api/vendors/{id}", Admin, vendor::list::one),
        delete("/api/vendors/{id}", Admin, vendor::manage::delete),
        // Model deployments on io.net (ids are io.net's, not Pylon's).
        get("/api/deployments/settings", Admin, deployment::settings::settings),
        post("/api/deployments/settings/test-connection", Admin, deployment::settings::test_connection),
        get("/api/deployments/", Admin, deployment::list::all),
        get("/api/deployments/search", Admin, deployment::list::search),
        post("/api/deployments/test-connection", Admin, deployment::settings::test_connection),
        get("/api/deployments/hardware-types", Admin, deployment::catalog::hardware_types),
        get("/api/deployments/locations", Admin, deployment::catalog::locations),
        get("/api/deployments/available-replicas", Admin, deployment::catalog::available_replicas),
        post("/api/deployments/price-estimation", Admin, deployment::catalog::price_estimation),
        get("/api/deployments/check-name", Admin, deployment::catalog::check_name),
        post("/api/deployments/", Admin, deployment::manage::create),
        get("/api/deployments/{deployment}", Admin, deployment::view::one),
        get("/api/deployments/{deployment}/logs", Admin, deployment::view::logs),
        get("/api/deployments/{deployment}/containers", Admin, deployment::view::containers),
        get("/api/deployments/{deployment}/containers/{container}", Admin, deployment::view::one_container),
        put("/api/deployments/{deployment}", Admin, deployment::manage::update),
        put("/api/deployments/{deployment}/name", Admin, deployment::manage::rename),
        post("/api/deployments/{deployment}/extend", Admin, deployment::manage::extend),
        delete("/api/deployments/{deployment}", Admin, deployment::manage::delete),
        // Model sync from each channel's upstream list (seed 001).
        post("/api/models/sync", Admin, model_sync::apply::apply),
        post("/api/models/sync/preview", Admin, model_sync::preview::preview),
        post("/api/models/sync/apply", Admin, model_sync::apply::apply),
        post("/api/channels/sync", Admin, model_sync::apply::apply),
        get("/api/channels/{id}/models", Admin, model_sync::channel_models::list),
        post("/api/channels/{id}/models", Admin, model_sync::channel_models::add),
        // Seed 001's group multipliers, of a channel and of one model of a channel.
        put("/api/channels/{id}/group-multipliers", Admin, channel_model::group_multipliers::channel),
        put("/api/channel-models/{id}", Admin, channel_model::update::update),
        delete("/api/channel-models/{id}", Admin, channel_model::delete::delete),
        put("/api/channel-models/{id}/group-multipliers", Admin, channel_model::group_multipliers::channel_model),
        // Seed 001's user channels; customers list those open to them.
        get("/api/user-channels", Admin, user_channel::list::list),
        post("/api/user-channels", Admin, user_channel::create::create),
        put("/api/user-channels/{id}", Admin, user_channel::update::update),
        delete("/api/user-channels/{id}", Admin, user_channel::delete::delete),
        get("/api/user/user-channels", User, user_channel::mine::list),
        // Price sync from a price source (another new-api's /api/ratio_config); root's, as
        // new-api's /api/ratio_sync.
        post("/api/models/prices/sync/preview", Admin, price_sync::preview::preview),
        post("/api/models/prices/sync/apply", Admin, price_sync::apply::apply),
        // new-api's price sync (root) and its exposed prices (public while ExposeRatioEnabled).
        get("/api/ratio_sync/channels", Root, price_sync::sync_channels::channels),
        post("/api/ratio_sync/fetch", Root, price_sync::sync_fetch::fetch),
        get("/api/ratio_config", Public, price_sync::ratio_config::ratio_config),
        post("/api/option/rest_model_ratio", Root, price_sync::reset::reset),
        get("/api/option/", Root, option::list::list),
        put("/api/option/", Root, option::update::update),
        // Channel affinity bindings (held by pylon-proxy): statistics and clearing.
        get("/api/option/channel_affinity_cache", Root, option::channel_affinity::stats),
        delete("/api/option/channel_affinity_cache", Root, option::channel_affinity::clear),
        // Moves the console settings of older new-api versions to `console_setting.*`.
        post("/api/option/migrate_console_setting", Root, option::migrate_console::migrate),
        // new-api's performance page, with this process's figures (`routes::performance`).
        get("/api/performance/stats", Root, performance::stats::stats),
        delete("/api/performance/disk_cache", Root, performance::disk_cache::clear),
        post("/api/performance/reset_stats", Root, performance::stats::reset),
        post("/api/performance/gc", Root, performance::gc::gc),
        get("/api/performance/logs", Root, performance::logs::list),
        delete("/api/performance/logs", Root, performance::logs::cleanup),
        // Top-ups and payments (served by their module's own router for now).
        module(GET, "/api/user/topup", Admin, topup::router),
        module(POST, "/api/user/topup", User, topup::router),
        module(POST, "/api/user/topup/complete", Admin, topup::router),
        module(GET, "/api/user/topup/info", User, topup::router),
        module(GET, "/api/user/topup/self", User, topup::router),
        module(POST, "/api/user/amount", User, topup::router),
        module(POST, "/api/user/pay", User, payment::router),
        module(POST, "/api/user/stripe/pay", User, payment::router),
        module(POST, "/api/user/stripe/amount", User, payment::router),
        module(POST, "/api/user/creem/pay", User, payment::router),
        module(POST, "/api/user/waffo/pay", User, payment::router),
        module(POST, "/api/user/waffo/amount", User, payment::router),
        module(GET, "/api/payment/qrcode", User, payment::router),
        module(POST, "/api/coupon/redeem", User, topup::router),
        // Gateways' callbacks, authenticated by their signatures.
        module(GET, "/api/user/epay/notify", Public, payment::router),
        module(POST, "/api/user/epay/notify", Public, payment::router),
        module(POST, "/api/stripe/webhook", Public, payment::router),
        module(POST, "/api/creem/webhook", Public, payment::router),
        module(POST, "/api/waffo/webhook", Public, payment::router),
        module(POST, "/api/payment/wechat/notify", Public, payment::router),
        // Plans and their orders (seed 002), referral commissions (seed 001).
        module(GET, "/api/plans", User, plan::router),
        module(POST, "/api/plans", Admin, plan::router),
        module(GET, "/api/plans/{plan}", User, plan::router),
        module(PUT, "/api/plans/{plan}", Admin, plan::router),
        module(DELETE, "/api/plans/{plan}", Admin, plan::router),
        module(POST, "/api/orders/create", User, order::router),
        module(GET, "/api/orders", User, order::router),
        module(POST, "/api/orders/{order}/cancel", User, order::router),
        module(GET, "/api/referral-commissions", Admin, commission::router),
        // Seed 001's payment orders, paid through YiPay (an EPay-compatible gateway).
        module(GET, "/api/user/payment/config", User, payment_orders::router),
        module(GET, "/api/user/payment/orders", User, payment_orders::router),
        module(POST, "/api/user/payment/orders", User, payment_orders::router),
        module(GET, "/api/user/payment/orders/{order_no}", User, payment_orders::router),
        module(GET, "/api/payment/yipay/notify", Public, payment_orders::router),
        module(POST, "/api/payment/yipay/notify", Public, payment_orders::router),
        module(GET, "/api/payment/yipay/return", Public, payment_orders::router),
        // Seed 004's shop: card keys, products, orders paid through EPay/YiPay.
        module(POST, "/api/use_carmi", User, shop::router),
        module(GET, "/api/product", User, shop::router),
        module(POST, "/api/pay/precreate", User, shop::router),
        module(GET, "/api/admin/payment", Admin, shop::router),
        module(POST, "/api/admin/payment", Admin, shop::router),
        module(PUT, "/api/admin/payment", Admin, shop::router),
        module(DELETE, "/api/admin/payment/{id}", Admin, shop::router),
        module(GET, "/api/admin/orders", Admin, shop::router),
        module(GET, "/api/admin/products", Admin, shop::router),
        module(POST, "/api/admin/products", Admin, shop::router),
        module(PUT, "/api/admin/products", Admin, shop::router),
        module(DELETE, "/api/admin/products/{product}", Admin, shop::router),
        module(GET, "/api/admin/carmi", Admin, shop::router),
        module(POST, "/api/admin/carmi", Admin, shop::router),
        module(GET, "/api/admin/carmi/check", Admin, shop::router),
        module(DELETE, "/api/admin/carmi/{id}", Admin, shop::router),
        // Subscriptions (new-api's): plans, buying, the caller's own, administrators' hold.
        get("/api/subscription/plans", User, subscription::plans::on_sale),
        get("/api/subscription/self", User, subscription::own::get),
        put("/api/subscription/self/preference", User, subscription::own::set_preference),
        post("/api/subscription/balance/pay", User, subscription::buy::with_balance),
        post("/api/subscription/epay/pay", User, subscription::buy::with_epay),
        post("/api/subscription/stripe/pay", User, subscription::buy::with_stripe),
        post("/api/subscription/creem/pay", User, subscription::buy::with_creem),
        get("/api/subscription/epay/notify", Public, payment::epay_notify::notify),
        post("/api/subscription/epay/notify", Public, payment::epay_notify::notify),
        get("/api/subscription/epay/return", Public, payment_orders::yipay::back),
        post("/api/subscription/epay/return", Public, payment_orders::yipay::back),
        get("/api/subscription/admin/plans", Admin, subscription::plans::all),
        post("/api/subscription/admin/plans", Admin, subscription::plans::create),
        put("/api/subscription/admin/plans/{id}", Admin, subscription::plans::update),
        patch("/api/subscription/admin/plans/{id}", Admin, subscription::plans::set_status),
        post("/api/subscription/admin/bind", Admin, subscription::admin::bind),
        get("/api/subscription/admin/users/{id}/subscriptions", Admin, subscription::admin::list_of_user),
        post("/api/subscription/admin/users/{id}/subscriptions", Admin, subscription::admin::grant_to_user),
        post("/api/subscription/admin/user_subscriptions/{id}/invalidate", Admin, subscription::admin::invalidate),
        delete("/api/subscription/admin/user_subscriptions/{id}", Admin, subscription::admin::delete),
        // Invitation codes (new-api's `/api/invitation/`, root's; also under the
        // `/api/invitation-code/` spelling). Whether registering needs one is set with its own
        // option route.
        get("/api/invitation/", Root, invitation::list::list),
        post("/api/invitation/", Root, invitation::manage::create),
        put("/api/invitation/", Root, invitation::manage::update),
        get("/api/invitation/search", Root, invitation::list::search),
        delete("/api/invitation/used", Root, invitation::manage::delete_used),
        get("/api/invitation/{id}", Root, invitation::list::get),
        delete("/api/invitation/{id}", Root, invitation::manage::delete),
        get("/api/invitation-code/", Root, invitation::list::list),
        post("/api/invitation-code/", Root, invitation::manage::create),
        put("/api/invitation-code/", Root, invitation::manage::update),
        get("/api/invitation-code/search", Root, invitation::list::search),
        delete("/api/invitation-code/used", Root, invitation::manage::delete_used),
        get("/api/invitation-code/{id}", Root, invitation::list::get),
        delete("/api/invitation-code/{id}", Root, invitation::manage::delete),
        put("/api/option/invitation-code", Root, invitation::settings::update),
        // Custom OAuth providers (new-api's `/api/custom-oauth-provider/`, root's).
        post("/api/custom-oauth-provider/discovery", Root, custom_oauth::discovery::discovery),
        get("/api/custom-oauth-provider/", Root, custom_oauth::manage::list),
        post("/api/custom-oauth-provider/", Root, custom_oauth::manage::create),
        get("/api/custom-oauth-provider/{id}", Root, custom_oauth::manage::get),
        put("/api/custom-oauth-provider/{id}", Root, custom_oauth::manage::update),
        delete("/api/custom-oauth-provider/{id}", Root, custom_oauth::manage::delete),
        // Redemption codes.
        module(GET, "/api/redemption/", Admin, redemption::router),
        module(POST, "/api/redemption/", Admin, redemption::router),
        module(PUT, "/api/redemption/", Admin, redemption::router),
        module(GET, "/api/redemption/search", Admin, redemption::router),
        module(DELETE, "/api/redemption/invalid", Admin, redemption::router),
        module(GET, "/api/redemption/{id}", Admin, redemption::router),
        module(DELETE, "/api/redemption/{id}", Admin, redemption::router),
    ]
}

/// The entries whose trailing slash is part of the route: new-api serves `GET /api/models` (a
/// signed-in user's) and `GET /api/models/` (an administrator's) with different handlers, so
/// this method and path keep the slash when routed and when requested.
pub const SLASH_DISTINCT: &[(Verb, &str)] = &[(GET, "/api/models/")];

/// Whether a request's method and path name a [`SLASH_DISTINCT`] entry (its slash is kept).
pub fn keeps_trailing_slash(method: &axum::http::Method, path: &str) -> bool {
    SLASH_DISTINCT
        .iter()
        .any(|(verb, distinct)| verb.name() == method.as_str() && *distinct == path)
}

/// The HTTP methods routes use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verb {
    Get,
    Post,
    Put,
    Patch,
    Delete,
    Options,
}
use Verb::{
    Delete as DELETE, Get as GET, Options as OPTIONS, Patch as PATCH, Post as POST, Put as PUT,
};

impl Verb {
    /// The method's name.
    pub fn name(self) -> &'static str {
        match self {
            Verb::Get => "GET",
            Verb::Post => "POST",
            Verb::Put => "PUT",
            Verb::Patch => "PATCH",
            Verb::Delete => "DELETE",
            Verb::Options => "OPTIONS",
        }
    }

    fn filter(self) -> MethodFilter {
        match self {
            Verb::Get => MethodFilter::GET,
            Verb::Post => MethodFilter::POST,
            Verb::Put => MethodFilter::PUT,
            Verb::Patch => MethodFilter::PATCH,
            Verb::Delete => MethodFilter::DELETE,
            Verb::Options => MethodFilter::OPTIONS,
        }
    }
}

/// One entry of the table.
pub struct Route {
    pub verb: Verb,
    pub path: &'static str,
    pub access: Access,
    pub(super) endpoint: Endpoint,
}

/// What serves a route.
pub(super) enum Endpoint {
    /// A handler function.
    Handler(Box<MethodRouter<AppState>>),
    /// A module's own router (which serves this method and path).
    Module(fn() -> Router<AppState>),
}

fn route<H, T>(verb: Verb, path: &'static str, access: Access, handler: H) -> Route
where
    H: Handler<T, AppState>,
    T: 'static,
{
    Route {
        verb,
        path,
        access,
        endpoint: Endpoint::Handler(Box::new(axum::routing::on(verb.filter(), handler))),
    }
}

fn get<H: Handler<T, AppState>, T: 'static>(path: &'static str, access: Access, h: H) -> Route {
    route(GET, path, access, h)
}

fn post<H: Handler<T, AppState>, T: 'static>(path: &'static str, access: Access, h: H) -> Route {
    route(POST, path, access, h)
}

fn put<H: Handler<T, AppState>, T: 'static>(path: &'static str, access: Access, h: H) -> Route {
    route(PUT, path, access, h)
}

fn patch<H: Handler<T, AppState>, T: 'static>(path: &'static str, access: Access, h: H) -> Route {
    route(PATCH, path, access, h)
}

fn delete<H: Handler<T, AppState>, T: 'static>(path: &'static str, access: Access, h: H) -> Route {
    route(DELETE, path, access, h)
}

fn options<H: Handler<T, AppState>, T: 'static>(path: &'static str, access: Access, h: H) -> Route {
    route(OPTIONS, path, access, h)
}

fn module(
    verb: Verb,
    path: &'static str,
    access: Access,
    router: fn() -> Router<AppState>,
) -> Route {
    Route {
        verb,
        path,
        access,
        endpoint: Endpoint::Module(router),
    }
}

impl Route {
    /// The path as it is routed: without new-api's trailing slash (unless
    /// [`SLASH_DISTINCT`] keeps it).
    pub fn routed_path(&self) -> &'static str {
        if SLASH_DISTINCT.contains(&(self.verb, self.path)) {
            self.path
        } else {
            routed(self.path)
        }
    }

    /// The path, method, access and handling of this entry, for the router.
    pub(super) fn into_method_router(self, app: &AppState) -> MethodRouter<AppState> {
        let guard = axum::middleware::from_fn_with_state(
            (app.clone(), self.access, self.path),
            crate::auth::guard::guard,
        );
        let served = match self.endpoint {
            Endpoint::Handler(handler) => *handler,
            Endpoint::Module(router) => {
                axum::routing::on_service(self.verb.filter(), router().with_state(app.clone()))
                    .layer(axum::middleware::map_request(for_module_router))
            }
        };
        served.route_layer(guard)
    }
}

/// The request as a module's own router must see it: without the path parameters this table
/// matched (the module's router matches the path again, and would see every parameter twice),
/// keeping the peer address and the user the guard authenticated.
async fn for_module_router(request: Request) -> Request {
    let (parts, body) = request.into_parts();
    let mut fresh = Request::new(body);
    *fresh.method_mut() = parts.method;
    *fresh.uri_mut() = parts.uri;
    *fresh.version_mut() = parts.version;
    *fresh.headers_mut() = parts.headers;
    if let Some(peer) = parts.extensions.get::<ConnectInfo<SocketAddr>>() {
        fresh.extensions_mut().insert(*peer);
    }
    if let Some(user) = parts.extensions.get::<AuthUser>() {
        fresh.extensions_mut().insert(user.clone());
    }
    fresh
}

/// A path without its trailing slash (the root stays `/`).
pub fn routed(path: &str) -> &str {
    match path.strip_suffix('/') {
        Some(trimmed) if !trimmed.is_empty() => trimmed,
        _ => path,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    /// Every route as `METHOD path access`, one a line. Adding, removing or re-guarding a route
    /// changes this list: update it in the same commit, on purpose.
    const SNAPSHOT: &str = include_str!("table.snapshot");

    #[test]
    fn the_route_table_is_the_snapshot() {
        let listed: Vec<String> = routes()
            .iter()
            .map(|r| format!("{} {} {}", r.verb.name(), r.path, r.access.name()))
            .collect();
        let expected: Vec<&str> = SNAPSHOT.lines().filter(|l| !l.is_empty()).collect();
        let added: Vec<&String> = listed
            .iter()
            .filter(|l| !expected.contains(&l.as_str()))
            .collect();
        let gone: Vec<&&str> = expected
            .iter()
            .filter(|l| !listed.contains(&l.to_string()))
            .collect();
        assert!(
            added.is_empty() && gone.is_empty(),
            "the route table changed: new {added:#?}, gone {gone:#?}; update table.snapshot"
        );
        assert_eq!(
            listed.len(),
            expected.len(),
            "the snapshot lists a route twice"
        );
    }

    #[test]
    fn no_route_is_declared_twice() {
        let mut seen = BTreeSet::new();
        for r in routes() {
            assert!(
                seen.insert((r.verb.name(), r.routed_path())),
                "{} {} is declared twice",
                r.verb.name(),
                r.path
            );
        }
    }

    #[test]
    fn trailing_slashes_are_trimmed_once() {
        assert_eq!(routed("/api/token/"), "/api/token");
        assert_eq!(routed("/api/token"), "/api/token");
        assert_eq!(routed("/"), "/");
    }

    #[test]
    fn only_the_slash_distinct_entries_keep_their_slash() {
        use axum::http::Method;
        assert!(keeps_trailing_slash(&Method::GET, "/api/models/"));
        assert!(!keeps_trailing_slash(&Method::POST, "/api/models/"));
        assert!(!keeps_trailing_slash(&Method::GET, "/api/models"));
        assert!(!keeps_trailing_slash(&Method::GET, "/api/token/"));
        let routed: Vec<&str> = routes()
            .iter()
            .filter(|r| r.path.starts_with("/api/models/") && r.path.len() == 12)
            .map(Route::routed_path)
            .collect();
        // GET keeps the slash; POST and PUT are routed without it, beside the users' GET.
        assert_eq!(routed, vec!["/api/models/", "/api/models", "/api/models"]);
    }
}
