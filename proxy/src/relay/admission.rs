//! Admission by affordability: hold the most a request can cost, but never more than the user
//! and the key have; refuse only when they cannot pay for the prompt plus
//! `relay.min_completion_tokens`. When the hold is smaller than the most the request could
//! cost, the upstream's completion limit is lowered to what the hold pays for, so the charge
//! stays within it.

use super::auth::Caller;
use super::billing::{Ledger, Refusal, Reservation};
use super::errors::RelayError;
use super::request::{Endpoint, RelayRequest};
use pylon_shared::config::RelayConfig;
use pylon_shared::pricing::{MediaBounds, Price, RequestUnits, estimate_prompt};

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
    let reservation = ledger
        .reserve(caller.user.id, charged_token, bounds)
        .await
        .map_err(refusal_error)?;
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

fn refusal_error(refusal: Refusal) -> RelayError {
    match refusal {
        Refusal::User => RelayError::insufficient_quota("Your balance is too low for this request"),
        Refusal::Token => {
            RelayError::insufficient_quota("This API key's quota is too low for this request")
        }
        Refusal::Unavailable => RelayError::billing_behind(),
    }
}
