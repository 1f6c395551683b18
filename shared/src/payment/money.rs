//! Exact amounts. Money is counted in integer cents ([`Cents`]); prices, ratios and discounts
//! are fixed-point decimals with six fractional digits ([`Decimal6`]), parsed from their text
//! (never through a float), so that `amount × price × group ratio × discount` is exact and is
//! rounded once, half up, to the cent, as new-api's decimal arithmetic does.

use std::fmt;

/// Six fractional digits: enough for every price, ratio and discount an operator types.
const SCALE: i128 = 1_000_000;

/// Why an amount or a decimal could not be read or computed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error("not a decimal number: {0:?}")]
    Malformed(String),
    #[error("the amount is out of range")]
    Overflow,
    #[error("negative amounts are not allowed")]
    Negative,
}

/// A non-negative decimal with six fractional digits (a price per unit, a ratio, a discount).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Decimal6(i128);

impl Decimal6 {
    /// One.
    pub const ONE: Decimal6 = Decimal6(SCALE);
    /// Zero.
    pub const ZERO: Decimal6 = Decimal6(0);

    /// Reads `"7.3"`, `"0.95"`, `"12"`. Digits beyond the sixth fractional place are rounded
    /// half up. A sign, an exponent or any other character is refused.
    pub fn parse(text: &str) -> Result<Self, MoneyError> {
        parse_scaled(text, 6).map(Decimal6)
    }

    /// The value of an integer.
    pub fn from_int(value: i64) -> Result<Self, MoneyError> {
        if value < 0 {
            return Err(MoneyError::Negative);
        }
        Ok(Decimal6(i128::from(value) * SCALE))
    }

    /// Whether this is zero.
    pub fn is_zero(self) -> bool {
        self.0 == 0
    }
}

impl fmt::Display for Decimal6 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let whole = self.0 / SCALE;
        let fraction = format!("{:06}", self.0 % SCALE);
        let fraction = fraction.trim_end_matches('0');
        if fraction.is_empty() {
            write!(f, "{whole}")
        } else {
            write!(f, "{whole}.{fraction}")
        }
    }
}

/// An amount of money in integer cents (or the smallest unit of the currency).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Cents(pub i64);

impl Cents {
    /// Reads `"10"`, `"10.5"`, `"10.50"` exactly. More than two fractional digits, a sign or
    /// any other character is refused: a gateway reporting `"10.499"` did not report cents.
    pub fn parse(text: &str) -> Result<Self, MoneyError> {
        let text = text.trim();
        if let Some((_, fraction)) = text.split_once('.')
            && fraction.len() > 2
        {
            return Err(MoneyError::Malformed(text.to_string()));
        }
        let scaled = parse_scaled(text, 2)?;
        i64::try_from(scaled)
            .map(Cents)
            .map_err(|_| MoneyError::Overflow)
    }

    /// The amount with exactly two decimals, as gateways expect it (`"10.50"`).
    pub fn to_decimal_string(self) -> String {
        format!("{}.{:02}", self.0 / 100, self.0 % 100)
    }
}

impl fmt::Display for Cents {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_decimal_string())
    }
}

/// What a top-up of `amount` units costs: `amount × price × group_ratio × discount`, rounded
/// half up to the cent. A zero group ratio or discount counts as one, as in new-api.
pub fn pay_money(
    amount: i64,
    price: Decimal6,
    group_ratio: Decimal6,
    discount: Decimal6,
) -> Result<Cents, MoneyError> {
    if amount < 0 {
        return Err(MoneyError::Negative);
    }
    let or_one = |d: Decimal6| if d.is_zero() { Decimal6::ONE } else { d };
    let product = [price, or_one(group_ratio), or_one(discount)]
        .iter()
        .try_fold(i128::from(amount), |acc, factor| acc.checked_mul(factor.0))
        .ok_or(MoneyError::Overflow)?;
    // `product` has 18 fractional digits; cents keep 2.
    let divisor = SCALE * SCALE * SCALE / 100;
    let cents = (product + divisor / 2) / divisor;
    i64::try_from(cents)
        .map(Cents)
        .map_err(|_| MoneyError::Overflow)
}

/// `rate` of `quota`, rounded down (a share is never more than the rate says); zero for a
/// negative quota.
pub fn share_of(quota: i64, rate: Decimal6) -> i64 {
    let share = i128::from(quota.max(0)) * rate.0 / SCALE;
    i64::try_from(share).unwrap_or(0)
}

/// The quota `amount` units buy: `amount × quota_per_unit`, refusing overflow.
pub fn quota_for_units(amount: i64, quota_per_unit: i64) -> Result<i64, MoneyError> {
    if amount < 0 || quota_per_unit < 0 {
        return Err(MoneyError::Negative);
    }
    amount
        .checked_mul(quota_per_unit)
        .ok_or(MoneyError::Overflow)
}

/// Parses a non-negative decimal into an integer scaled by 10^`digits`, rounding half up
/// beyond that.
fn parse_scaled(text: &str, digits: u32) -> Result<i128, MoneyError> {
    let malformed = || MoneyError::Malformed(text.to_string());
    let text = text.trim();
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    if (whole.is_empty() && fraction.is_empty())
        || !whole.bytes().all(|b| b.is_ascii_digit())
        || !fraction.bytes().all(|b| b.is_ascii_digit())
        || whole.len() > 18
    {
        return Err(malformed());
    }
    let whole: i128 = if whole.is_empty() {
        0
    } else {
        whole.parse().map_err(|_| malformed())?
    };
    let mut scaled = whole * 10i128.pow(digits);
    let mut place = 10i128.pow(digits);
    for digit in fraction.bytes().take(digits as usize) {
        place /= 10;
        scaled += i128::from(digit - b'0') * place;
    }
    if let Some(next) = fraction.as_bytes().get(digits as usize)
        && *next >= b'5'
    {
        scaled += 1;
    }
    Ok(scaled)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(text: &str) -> Decimal6 {
        Decimal6::parse(text).unwrap()
    }

    #[test]
    fn shares_round_down_exactly() {
        assert_eq!(share_of(5_000_000, d("0.1")), 500_000);
        assert_eq!(share_of(999, d("0.333333")), 332);
        assert_eq!(share_of(1_000, Decimal6::ZERO), 0);
        assert_eq!(share_of(-5, d("0.5")), 0);
        assert_eq!(share_of(i64::MAX, Decimal6::ONE), i64::MAX);
    }

    #[test]
    fn decimals_parse_exactly() {
        assert_eq!(d("7.3").to_string(), "7.3");
        assert_eq!(d("0.95").to_string(), "0.95");
        assert_eq!(d("12").to_string(), "12");
        assert_eq!(d(".5").to_string(), "0.5");
        assert_eq!(d("0.0000015").to_string(), "0.000002");
        for bad in ["", ".", "-1", "1e3", "1.2.3", "abc", " 1 2"] {
            assert!(Decimal6::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn cents_parse_and_print_exactly() {
        assert_eq!(Cents::parse("10").unwrap(), Cents(1000));
        assert_eq!(Cents::parse("10.5").unwrap(), Cents(1050));
        assert_eq!(Cents::parse("0.01").unwrap(), Cents(1));
        assert_eq!(Cents(1050).to_decimal_string(), "10.50");
        assert_eq!(Cents(7).to_decimal_string(), "0.07");
        assert!(Cents::parse("10.499").is_err());
        assert!(Cents::parse("-1").is_err());
    }

    #[test]
    fn pay_money_is_exact_where_floats_are_not() {
        // 0.1 × 3 is 0.30000000000000004 in binary floating point.
        assert_eq!(
            pay_money(3, d("0.1"), Decimal6::ONE, Decimal6::ONE).unwrap(),
            Cents(30)
        );
        // new-api's default price: 10 units at 7.3 = 73.00.
        assert_eq!(
            pay_money(10, d("7.3"), Decimal6::ONE, Decimal6::ONE).unwrap(),
            Cents(7300)
        );
        // 100 units, price 7.3, group ratio 1.5, discount 0.95 = 1040.25.
        assert_eq!(
            pay_money(100, d("7.3"), d("1.5"), d("0.95")).unwrap(),
            Cents(104_025)
        );
        // Half a cent rounds up; zero ratio and discount count as one.
        assert_eq!(
            pay_money(1, d("0.005"), Decimal6::ZERO, Decimal6::ZERO).unwrap(),
            Cents(1)
        );
        assert_eq!(
            pay_money(1, d("0.0049"), Decimal6::ONE, Decimal6::ONE).unwrap(),
            Cents(0)
        );
        assert!(pay_money(-1, d("1"), Decimal6::ONE, Decimal6::ONE).is_err());
        assert_eq!(
            pay_money(i64::MAX, d("999999999999"), d("999999"), d("999999")),
            Err(MoneyError::Overflow)
        );
    }

    #[test]
    fn quota_for_units_refuses_overflow() {
        assert_eq!(quota_for_units(10, 500_000), Ok(5_000_000));
        assert_eq!(quota_for_units(i64::MAX, 2), Err(MoneyError::Overflow));
        assert!(quota_for_units(-1, 500_000).is_err());
    }
}
