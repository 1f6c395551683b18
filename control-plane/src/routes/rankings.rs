//! `GET /api/rankings?period=` (new-api's model rankings page): token use per model over
//! `today` (hourly buckets), `week` (default), `month`, `year` or `all`, from the per-hour usage
//! aggregates. `models` (top 20, with rank, previous rank, vendor, share and growth against the
//! period before), `vendors` (the catalogue's vendor of each model, else "Unknown"),
//! `top_movers` / `top_droppers`, `models_history` (top 10 and "Others" per bucket) and
//! `vendor_share_history` (top 5 and "Others"). `users` (the top 20 users) is filled for
//! administrators only: usernames are not public.

use crate::app::AppState;
use crate::auth::MaybeUser;
use crate::envelope;
use crate::error::{ApiError, ApiResult};
use axum::extract::{Query, State};
use chrono::DateTime;
use pylon_shared::db::now_secs;
use pylon_shared::roles::ROLE_ADMIN;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet, HashMap};

const LEADERBOARD: usize = 20;
const HISTORY_MODELS: usize = 10;
const HISTORY_VENDORS: usize = 5;
const MOVERS: usize = 6;
const USERS: i64 = 20;
const OTHERS: &str = "Others";
const UNKNOWN: &str = "Unknown";
const DAY: i64 = 24 * 3600;

/// A period: its length (0: all time), bucket size and label format.
struct Period {
    secs: i64,
    bucket: i64,
    label: &'static str,
}

fn period(name: &str) -> Result<Period, ApiError> {
    Ok(match name {
        "" | "week" => Period {
            secs: 7 * DAY,
            bucket: DAY,
            label: "%b %-d",
        },
        "today" => Period {
            secs: DAY,
            bucket: 3600,
            label: "%H:%M",
        },
        "month" => Period {
            secs: 30 * DAY,
            bucket: DAY,
            label: "%b %-d",
        },
        "year" => Period {
            secs: 365 * DAY,
            bucket: 7 * DAY,
            label: "%b %-d",
        },
        "all" => Period {
            secs: 0,
            bucket: 30 * DAY,
            label: "%b %Y",
        },
        other => {
            return Err(ApiError::invalid(format!(
                "invalid ranking period: {other}"
            )));
        }
    })
}

/// Four decimals, as new-api rounds shares and growth.
fn round4(value: f64) -> f64 {
    (value * 10_000.0).round() / 10_000.0
}

fn share(value: i64, total: i64) -> f64 {
    if total <= 0 || value <= 0 {
        return 0.0;
    }
    round4(value as f64 / total as f64)
}

fn growth(current: i64, previous: i64) -> f64 {
    if previous <= 0 {
        return if current > 0 { 100.0 } else { 0.0 };
    }
    round4((current - previous) as f64 / previous as f64 * 100.0)
}

pub async fn rankings(
    State(app): State<AppState>,
    MaybeUser(caller): MaybeUser,
    Query(query): Query<HashMap<String, String>>,
) -> ApiResult {
    let period = period(query.get("period").map(|p| p.trim()).unwrap_or(""))?;
    let now = now_secs();
    let start = if period.secs > 0 {
        now - period.secs
    } else {
        0
    };
    let from = start - start.rem_euclid(3600);
    let totals = app.db.ranking_model_totals(from, now).await?;
    let previous = if period.secs > 0 {
        let before = from - period.secs;
        app.db.ranking_model_totals(before, from - 1).await?
    } else {
        Vec::new()
    };
    let buckets = app.db.ranking_buckets(from, now, period.bucket).await?;
    let vendors_of: HashMap<String, (String, String)> = app
        .db
        .model_vendors()
        .await?
        .into_iter()
        .map(|(model, vendor, icon)| (model, (vendor, icon)))
        .collect();
    let vendor = |model: &str| -> (String, String) {
        vendors_of
            .get(model)
            .cloned()
            .unwrap_or_else(|| (UNKNOWN.to_string(), String::new()))
    };
    let total: i64 = totals.iter().map(|(_, t)| t).sum();
    let previous_rank: HashMap<&str, usize> = previous
        .iter()
        .enumerate()
        .map(|(i, (m, _))| (m.as_str(), i + 1))
        .collect();
    let previous_tokens: HashMap<&str, i64> =
        previous.iter().map(|(m, t)| (m.as_str(), *t)).collect();
    let has_previous = period.secs > 0;

    // Models.
    let models: Vec<Value> = totals
        .iter()
        .enumerate()
        .map(|(i, (model, tokens))| {
            let (vendor_name, icon) = vendor(model);
            let mut row = json!({
                "rank": i + 1,
                "model_name": model,
                "vendor": vendor_name,
                "category": "all",
                "total_tokens": tokens,
                "share": share(*tokens, total),
                "growth_pct": if has_previous {
                    growth(*tokens, previous_tokens.get(model.as_str()).copied().unwrap_or(0))
                } else {
                    0.0
                },
            });
            if let Some(rank) = previous_rank.get(model.as_str()) {
                row["previous_rank"] = json!(rank);
            }
            if !icon.is_empty() {
                row["vendor_icon"] = json!(icon);
            }
            row
        })
        .collect();

    // Movers: models whose rank changed, most places first.
    let mut movers = Vec::new();
    let mut droppers = Vec::new();
    for row in &models {
        let Some(before) = row["previous_rank"].as_i64() else {
            continue;
        };
        let rank = row["rank"].as_i64().unwrap_or(0);
        let delta = before - rank;
        if delta == 0 {
            continue;
        }
        let mut mover = json!({
            "model_name": row["model_name"],
            "vendor": row["vendor"],
            "rank_delta": delta,
            "current_rank": rank,
            "growth_pct": row["growth_pct"],
        });
        if let Some(icon) = row.get("vendor_icon") {
            mover["vendor_icon"] = icon.clone();
        }
        if delta > 0 {
            movers.push(mover)
        } else {
            droppers.push(mover)
        }
    }
    let key = |v: &Value| {
        (
            v["rank_delta"].as_i64().unwrap_or(0),
            v["growth_pct"].as_f64().unwrap_or(0.0),
        )
    };
    movers.sort_by(|a, b| {
        let (da, ga) = key(a);
        let (db, gb) = key(b);
        db.cmp(&da).then(gb.total_cmp(&ga))
    });
    droppers.sort_by(|a, b| {
        let (da, ga) = key(a);
        let (db, gb) = key(b);
        da.cmp(&db).then(ga.total_cmp(&gb))
    });
    movers.truncate(MOVERS);
    droppers.truncate(MOVERS);

    // Vendors.
    struct VendorSum {
        icon: String,
        tokens: i64,
        previous: i64,
        models: BTreeSet<String>,
        top: (i64, String),
    }
    let mut per_vendor: BTreeMap<String, VendorSum> = BTreeMap::new();
    for (model, tokens) in &totals {
        let (name, icon) = vendor(model);
        let entry = per_vendor.entry(name).or_insert_with(|| VendorSum {
            icon: icon.clone(),
            tokens: 0,
            previous: 0,
            models: BTreeSet::new(),
            top: (0, String::new()),
        });
        entry.tokens += tokens;
        entry.models.insert(model.clone());
        if *tokens > entry.top.0 {
            entry.top = (*tokens, model.clone());
        }
    }
    for (model, tokens) in &previous {
        if let Some(entry) = per_vendor.get_mut(&vendor(model).0) {
            entry.previous += tokens;
        }
    }
    let mut vendors: Vec<(String, VendorSum)> = per_vendor.into_iter().collect();
    vendors.sort_by(|a, b| b.1.tokens.cmp(&a.1.tokens).then_with(|| a.0.cmp(&b.0)));
    let vendor_rows: Vec<Value> = vendors
        .iter()
        .enumerate()
        .map(|(i, (name, sum))| {
            let mut row = json!({
                "rank": i + 1,
                "vendor": name,
                "total_tokens": sum.tokens,
                "share": share(sum.tokens, total),
                "growth_pct": if has_previous { growth(sum.tokens, sum.previous) } else { 0.0 },
                "models_count": sum.models.len(),
                "top_model": sum.top.1,
            });
            if !sum.icon.is_empty() {
                row["vendor_icon"] = json!(sum.icon);
            }
            row
        })
        .collect();

    // Histories: the top models (and vendors) per bucket, the rest as "Others".
    let label = |bucket: i64| {
        DateTime::from_timestamp(bucket, 0)
            .map(|t| (t.to_rfc3339(), t.format(period.label).to_string()))
            .unwrap_or_default()
    };
    let top_models: Vec<&(String, i64)> = totals.iter().take(HISTORY_MODELS).collect();
    let other_models: i64 = totals.iter().skip(HISTORY_MODELS).map(|(_, t)| t).sum();
    let mut history_models: Vec<(String, String, i64)> = top_models
        .iter()
        .map(|(m, t)| (m.clone(), vendor(m).0, *t))
        .collect();
    if other_models > 0 {
        history_models.push((OTHERS.into(), "Various".into(), other_models));
    }
    let top_vendors: Vec<&str> = vendors
        .iter()
        .take(HISTORY_VENDORS)
        .map(|(n, _)| n.as_str())
        .collect();
    let other_vendors: i64 = vendors
        .iter()
        .skip(HISTORY_VENDORS)
        .map(|(_, s)| s.tokens)
        .sum();
    let mut history_vendors: Vec<(String, i64)> = vendors
        .iter()
        .take(HISTORY_VENDORS)
        .map(|(n, s)| (n.clone(), s.tokens))
        .collect();
    if other_vendors > 0 {
        history_vendors.push((OTHERS.into(), other_vendors));
    }
    let mut by_model: BTreeMap<i64, HashMap<String, i64>> = BTreeMap::new();
    let mut by_vendor: BTreeMap<i64, HashMap<String, i64>> = BTreeMap::new();
    for (bucket, model, tokens) in &buckets {
        let model_key = if top_models.iter().any(|(m, _)| m == model) {
            model.clone()
        } else {
            OTHERS.to_string()
        };
        *by_model
            .entry(*bucket)
            .or_default()
            .entry(model_key)
            .or_default() += tokens;
        let vendor_name = vendor(model).0;
        let vendor_key = if top_vendors.contains(&vendor_name.as_str()) {
            vendor_name
        } else {
            OTHERS.to_string()
        };
        *by_vendor
            .entry(*bucket)
            .or_default()
            .entry(vendor_key)
            .or_default() += tokens;
    }
    let mut model_points = Vec::new();
    for (bucket, tokens_of) in &by_model {
        let (ts, text) = label(*bucket);
        for (name, vendor_name, _) in &history_models {
            if let Some(tokens) = tokens_of.get(name).filter(|t| **t > 0) {
                model_points.push(json!({"ts": ts, "label": text, "model": name,
                    "vendor": vendor_name, "tokens": tokens}));
            }
        }
    }
    let mut vendor_points = Vec::new();
    for (bucket, tokens_of) in &by_vendor {
        let (ts, text) = label(*bucket);
        let bucket_total: i64 = tokens_of.values().sum();
        for (name, _) in &history_vendors {
            if let Some(tokens) = tokens_of.get(name).filter(|t| **t > 0) {
                vendor_points.push(json!({"ts": ts, "label": text, "vendor": name,
                    "share": share(*tokens, bucket_total), "tokens": tokens}));
            }
        }
    }

    // Users, for administrators.
    let mut users = Vec::new();
    if caller.is_some_and(|c| c.user.role >= ROLE_ADMIN) {
        let top = app.db.ranking_users(from, now, USERS).await?;
        let users_total: i64 = top.iter().map(|u| u.tokens).sum();
        for (i, user) in top.iter().enumerate() {
            let top_model = app
                .db
                .ranking_user_models(user.user_id, from, now)
                .await?
                .into_iter()
                .next()
                .map(|(m, _)| m)
                .unwrap_or_default();
            users.push(json!({
                "rank": i + 1,
                "user_id": user.user_id,
                "username": user.username,
                "display_name": user.display_name,
                "total_tokens": user.tokens,
                "count": user.requests,
                "share": share(user.tokens, users_total),
                "top_model": top_model,
            }));
        }
    }

    Ok(envelope::ok(json!({
        "models": models.into_iter().take(LEADERBOARD).collect::<Vec<_>>(),
        "vendors": vendor_rows,
        "users": users,
        "top_movers": movers,
        "top_droppers": droppers,
        "models_history": {
            "points": model_points,
            "models": history_models.iter().map(|(n, v, t)| json!({"name": n, "vendor": v, "total": t})).collect::<Vec<_>>(),
            "buckets": by_model.len(),
        },
        "vendor_share_history": {
            "points": vendor_points,
            "vendors": history_vendors.iter().map(|(n, t)| json!({"name": n, "total": t, "share": share(*t, total)})).collect::<Vec<_>>(),
            "buckets": by_vendor.len(),
        },
    })))
}
