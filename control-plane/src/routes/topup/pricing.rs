//! What a top-up of some units credits and costs, as new-api computes it: the quota is
//! `amount × QuotaPerUnit`; the money is `amount × price × the group's top-up ratio × the
//! amount's discount`, exact, rounded half up to the cent.

use crate::routes::payment::settings::PaymentSettings;
use pylon_shared::payment::money::{Cents, Decimal6, pay_money, quota_for_units};

/// A priced top-up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quote {
    pub quota: i64,
    pub money: Cents,
}

/// Prices `amount` units for a user of `group` at `price` per unit, refusing amounts below
/// `min_topup`; the error is the reason to show the user.
pub fn quote(
    settings: &PaymentSettings,
    amount: i64,
    group: &str,
    price: Decimal6,
    min_topup: i64,
) -> Result<Quote, String> {
    if amount < min_topup {
        return Err(format!("The top-up amount cannot be less than {min_topup}"));
    }
    if amount <= 0 {
        return Err("The top-up amount is invalid".into());
    }
    let quota = quota_for_units(amount, settings.quota_per_unit)
        .map_err(|_| "The top-up amount is too large".to_string())?;
    let money = pay_money(
        amount,
        price,
        settings.group_ratio(group),
        settings.discount(amount),
    )
    .map_err(|_| "The top-up amount is too large".to_string())?;
    if money.0 < 1 {
        return Err("The payment amount is too low".into());
    }
    Ok(Quote { quota, money })
}
