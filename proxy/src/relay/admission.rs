//! Admission by affordability: hold the most a request can cost, but never more than the user
//! and the key have; refuse only when they cannot pay for the prompt plus
//! `relay.min_completion_tokens`. When the hold is smaller than the most the request could
//! cost, the upstream's completion limit is lowered to what the hold pays for, so the charge
//! stays within it.

use super::auth::Caller;
use super::billing::{Ledger, Payer, Refusal, Reservation};
use super::errors::RelayError;
use super::request::{Endpoint, RelayRequest};
use super::snapshot::{BillingPreference, UserEntry};
use pylon_shared::config::RelayConfig;
use pylon_shared::db::now_secs;
use pylon_shared::pricing::{Bounds, MediaBounds, Price, RequestUnits, estimate_prompt};

/// What admission decided for one request.
#[derive(Debug, Clone, Copy)]
pub struct Admission {
    pub reservation: Reservation,
    /// Prompt tokens assumed (media items at their bounds).
    pub prompt_estimate: i64,
    /// Units of a per-request price (images: n, size, quality).
    pub units: RequestUnits,
    /// The completion limit to send upstream, when the hold pays for less than the request
    /// could generate.
    pub upstream_limit: Option<i64>,
}

/// Reserves for `request` at `price`, or says why not in the caller's format.
pub async fn admit(
    ledger: &Ledger,
    config: &RelayConfig,
    caller: &Caller,
    request: &RelayRequest,
    price: &Price,
) -> Result<Admission, RelayError> {
    let prompt_estimate = if request.endpoint.is_multipart() {
        pylon_shared::pricing::estimate_prompt_tokens(request.body.len())
    } else {
        estimate_prompt(&request.body, &MediaBounds::default())
    };
    let units = if request.endpoint == Endpoint::ImagesGenerations {
        RequestUnits::of_image_request(&request.body)
    } else {
        RequestUnits::ONE
    };
    let max_completion = request.max_tokens.unwrap_or(config.default_max_tokens);
    let bounds = price.bounds(
        prompt_estimate,
        config.min_completion_tokens,
        max_completion,
        units,
    );
    let charged_token = (!caller.token.unlimited).then_some(caller.token.id);
    let reservation = reserve(ledger, caller, charged_token, bounds).await?;
    let upstream_limit = match price {
        Price::PerToken { .. } if reservation.amount < bounds.ceiling => Some(
            price
                .affordable_completion(prompt_estimate, reservation.amount, max_completion)
                .max(1),
        ),
        _ => None,
    };
    Ok(Admission {
        reservation,
        prompt_estimate,
        units,
        upstream_limit,
    })
}

/// What may pay for the caller's request, in the order of their billing preference: their
/// subscriptions in force (the soonest to end first) and their wallet.
fn payers(user: &UserEntry, now: i64) -> Vec<Payer> {
    let subscriptions = user
        .subscriptions
        .iter()
        .filter(|s| s.end_time > now)
        .map(|s| Payer::Subscription {
            id: s.id,
            limited: s.limited,
        });
    let mut payers = Vec::with_capacity(user.subscriptions.len() + 1);
    match user.billing {
        BillingPreference::SubscriptionFirst => {
            payers.extend(subscriptions);
            payers.push(Payer::Wallet);
        }
        BillingPreference::WalletFirst => {
            payers.push(Payer::Wallet);
            payers.extend(subscriptions);
        }
        BillingPreference::SubscriptionOnly => payers.extend(subscriptions),
        BillingPreference::WalletOnly => payers.push(Payer::Wallet),
    }
    payers
}

/// Holds for the request from the first payer (in preference order) that covers all it could
/// cost; failing that, from the first that covers the floor (the upstream's completion limit is
/// then lowered). With one payer (most users), one attempt.
pub(super) async fn reserve(
    ledger: &Ledger,
    caller: &Caller,
    charged_token: Option<i64>,
    bounds: Bounds,
) -> Result<Reservation, RelayError> {
    let user = caller.user.id;
    if caller.user.subscriptions.is_empty()
        && caller.user.billing != BillingPreference::SubscriptionOnly
    {
        // Most users: the wallet, without building a list.
        return ledger
            .reserve(user, Payer::Wallet, charged_token, bounds)
            .await
            .map_err(refusal_error);
    }
    let payers = payers(&caller.user, now_secs());
    let whole = Bounds {
        floor: bounds.ceiling,
        ..bounds
    };
    let mut last = None;
    let passes: &[Bounds] = if payers.len() > 1 {
        &[whole, bounds]
    } else {
        &[bounds]
    };
    for pass in passes {
        for payer in &payers {
            match ledger.reserve(user, *payer, charged_token, *pass).await {
                Ok(reservation) => return Ok(reservation),
                Err(Refusal::Unavailable) => return Err(refusal_error(Refusal::Unavailable)),
                Err(refusal) => last = Some(refusal),
            }
        }
    }
    Err(match last {
        Some(refusal) => refusal_error(refusal),
        None => RelayError::insufficient_quota(
            "No subscription in force pays for this request, and your billing preference \
             excludes the wallet",
        ),
    })
}

fn refusal_error(refusal: Refusal) -> RelayError {
    match refusal {
        Refusal::User => RelayError::insufficient_quota("Your balance is too low for this request"),
        Refusal::Subscription => RelayError::insufficient_quota(
            "Your subscription's quota left is too low for this request",
        ),
        Refusal::Token => {
            RelayError::insufficient_quota("This API key's quota is too low for this request")
        }
        Refusal::Unavailable => RelayError::billing_behind(),
    }
}
