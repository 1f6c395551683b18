//! The log lines of credits: what a user reads for a redeemed code or a paid order. After the
//! credit has committed, its caller brings the caches along with `crate::ledger::after_commit`.

use pylon_shared::db::{RedemptionRow, TopUpRow};

/// `quota` for people: the amount and its value in US dollars (integer arithmetic).
fn describe_quota(quota: i64, per_unit: i64) -> String {
    let per_unit = per_unit.max(1);
    let cents = (i128::from(quota) * 100 + i128::from(per_unit) / 2) / i128::from(per_unit);
    format!("{quota} quota (${}.{:02})", cents / 100, cents % 100)
}

/// The log line of a redeemed code.
pub fn describe_redemption(code: &RedemptionRow, per_unit: i64) -> String {
    format!(
        "Topped up {} with a redemption code, code ID {}",
        describe_quota(code.quota, per_unit),
        code.id
    )
}

/// The log line of a paid order.
pub fn describe_payment(order: &TopUpRow, per_unit: i64) -> String {
    format!(
        "Online top-up succeeded: {}, paid {}.{:02} {} (order {}, {})",
        describe_quota(order.quota, per_unit),
        order.money_cents / 100,
        order.money_cents % 100,
        order.currency,
        order.trade_no,
        order.payment_method
    )
}

#[cfg(test)]
mod tests {
    use super::describe_quota;

    #[test]
    fn quota_is_described_in_dollars_exactly() {
        assert_eq!(describe_quota(500_000, 500_000), "500000 quota ($1.00)");
        assert_eq!(describe_quota(1_250_000, 500_000), "1250000 quota ($2.50)");
        assert_eq!(describe_quota(2_500, 500_000), "2500 quota ($0.01)");
    }
}
