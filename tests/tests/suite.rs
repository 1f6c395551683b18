//! Every end-to-end test file of this crate as one test binary (`suite`), rather than a binary
//! each: linking dozens of binaries, each with every dependency in it, cost minutes of CI and
//! gigabytes of disk per build. Each file stays a module of its own, so a test is named after
//! its file: run one file with `cargo nextest run -p pylon-tests <file>::`. A new test file is
//! added to this list.

#[path = "account_journey.rs"]
mod account_journey;
#[path = "admin_clear_binding.rs"]
mod admin_clear_binding;
#[path = "admission.rs"]
mod admission;
#[path = "audit_log.rs"]
mod audit_log;
#[path = "bad_rows.rs"]
mod bad_rows;
#[path = "billing_durability.rs"]
mod billing_durability;
#[path = "catalogue_groups.rs"]
mod catalogue_groups;
#[path = "catalogue_models.rs"]
mod catalogue_models;
#[path = "catalogue_sync.rs"]
mod catalogue_sync;
#[path = "channel_affinity.rs"]
mod channel_affinity;
#[path = "channel_codex.rs"]
mod channel_codex;
#[path = "channel_helpers.rs"]
mod channel_helpers;
#[path = "channel_ops.rs"]
mod channel_ops;
#[path = "channel_types.rs"]
mod channel_types;
#[path = "channel_upstream_updates.rs"]
mod channel_upstream_updates;
#[path = "channels.rs"]
mod channels;
#[path = "checkin.rs"]
mod checkin;
#[path = "configuration.rs"]
mod configuration;
#[path = "console_migration.rs"]
mod console_migration;
#[path = "console_status_and_models.rs"]
mod console_status_and_models;
#[path = "custom_oauth.rs"]
mod custom_oauth;
#[path = "custom_oauth_external.rs"]
mod custom_oauth_external;
#[path = "dashboard_data.rs"]
mod dashboard_data;
#[path = "data_layer.rs"]
mod data_layer;
#[path = "deployments.rs"]
mod deployments;
#[path = "email_bind.rs"]
mod email_bind;
#[path = "email_login_and_reset.rs"]
mod email_login_and_reset;
#[path = "exports.rs"]
mod exports;
#[path = "faults.rs"]
mod faults;
#[path = "input_lengths.rs"]
mod input_lengths;
#[path = "invitation_codes.rs"]
mod invitation_codes;
#[path = "invitation_quota.rs"]
mod invitation_quota;
#[path = "key_cache.rs"]
mod key_cache;
#[path = "key_pool.rs"]
mod key_pool;
#[path = "key_reads_and_log_search.rs"]
mod key_reads_and_log_search;
#[path = "ledger.rs"]
mod ledger;
#[path = "log_queries.rs"]
mod log_queries;
#[path = "log_retention.rs"]
mod log_retention;
#[path = "login_throttling.rs"]
mod login_throttling;
#[path = "lua_scripts.rs"]
mod lua_scripts;
#[path = "metadata_sync.rs"]
mod metadata_sync;
#[path = "midjourney.rs"]
mod midjourney;
#[path = "mock_upstream.rs"]
mod mock_upstream;
#[path = "multi_node.rs"]
mod multi_node;
#[path = "oauth_builtin.rs"]
mod oauth_builtin;
#[path = "oauth_invitations.rs"]
mod oauth_invitations;
#[path = "oauth_wechat_telegram.rs"]
mod oauth_wechat_telegram;
#[path = "oidc.rs"]
mod oidc;
#[path = "openai_sdk.rs"]
mod openai_sdk;
#[path = "options.rs"]
mod options;
#[path = "passkey_verification.rs"]
mod passkey_verification;
#[path = "passkeys.rs"]
mod passkeys;
#[path = "payments.rs"]
mod payments;
#[path = "payments_commission.rs"]
mod payments_commission;
#[path = "payments_creem.rs"]
mod payments_creem;
#[path = "payments_orders.rs"]
mod payments_orders;
#[path = "payments_secrets.rs"]
mod payments_secrets;
#[path = "payments_seed001.rs"]
mod payments_seed001;
#[path = "payments_seed004.rs"]
mod payments_seed004;
#[path = "payments_waffo.rs"]
mod payments_waffo;
#[path = "performance_routes.rs"]
mod performance_routes;
#[path = "playground.rs"]
mod playground;
#[path = "prefill_groups.rs"]
mod prefill_groups;
#[path = "price_sources.rs"]
mod price_sources;
#[path = "pricing_defaults.rs"]
mod pricing_defaults;
#[path = "protocols.rs"]
mod protocols;
#[path = "protocols_anthropic_sdk.rs"]
mod protocols_anthropic_sdk;
#[path = "protocols_cache.rs"]
mod protocols_cache;
#[path = "protocols_cloud.rs"]
mod protocols_cloud;
#[path = "protocols_genai_sdk.rs"]
mod protocols_genai_sdk;
#[path = "proxy_edge.rs"]
mod proxy_edge;
#[path = "public_console.rs"]
mod public_console;
#[path = "rate_limits.rs"]
mod rate_limits;
#[path = "registration.rs"]
mod registration;
#[path = "relay.rs"]
mod relay;
#[path = "relay_endpoints.rs"]
mod relay_endpoints;
#[path = "routes.rs"]
mod routes;
#[path = "seed_stats.rs"]
mod seed_stats;
#[path = "self_service.rs"]
mod self_service;
#[path = "settings.rs"]
mod settings;
#[path = "settlement_folding.rs"]
mod settlement_folding;
#[path = "setup_and_login.rs"]
mod setup_and_login;
#[path = "statistics.rs"]
mod statistics;
#[path = "status_fields.rs"]
mod status_fields;
#[path = "status_monitors.rs"]
mod status_monitors;
#[path = "subscriptions.rs"]
mod subscriptions;
#[path = "suno_tasks.rs"]
mod suno_tasks;
#[path = "system_info.rs"]
mod system_info;
#[path = "tokens.rs"]
mod tokens;
#[path = "two_factor.rs"]
mod two_factor;
#[path = "upstream_http2.rs"]
mod upstream_http2;
#[path = "user_admin.rs"]
mod user_admin;
#[path = "user_channels.rs"]
mod user_channels;
#[path = "video_remix_and_fetch.rs"]
mod video_remix_and_fetch;
#[path = "video_task_leases.rs"]
mod video_task_leases;
#[path = "video_tasks.rs"]
mod video_tasks;
#[path = "video_tasks_sdk.rs"]
mod video_tasks_sdk;
