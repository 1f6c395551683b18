//! Exact decimal arithmetic for the quota formula: a ratio such as 0.145 is taken at its
//! shortest decimal form (as new-api's `decimal.NewFromFloat` does), so `0.145 * 100` is 14.5
//! and rounds to 15 where binary floating point would give 14.4999… and round to 14.

/// `mantissa / 10^scale`. Every operation is checked: `None` means "does not fit", and the
/// caller falls back to floating point.
#[derive(Debug, Clone, Copy)]
pub(super) struct Dec {
    mantissa: i128,
    scale: u32,
}

/// The largest scale kept: `10^MAX_SCALE` and twice any remainder below it fit in an i128.
const MAX_SCALE: u32 = 36;

impl Dec {
    /// An integer.
    pub(super) fn int(value: i64) -> Dec {
        Dec {
            mantissa: i128::from(value),
            scale: 0,
        }
    }

    /// The shortest decimal that reads back as `value` (Rust's `Display` for `f64` prints
    /// exactly that, without exponent); `None` for non-finite values or ones needing more than
    /// 36 decimal places or 38 digits.
    pub(super) fn from_f64(value: f64) -> Option<Dec> {
        if !value.is_finite() {
            return None;
        }
        let text = value.abs().to_string();
        let (whole, fraction) = text.split_once('.').unwrap_or((&text, ""));
        let scale = u32::try_from(fraction.len())
            .ok()
            .filter(|s| *s <= MAX_SCALE)?;
        let mut mantissa: i128 = 0;
        for digit in whole.bytes().chain(fraction.bytes()) {
            if !digit.is_ascii_digit() {
                return None;
            }
            mantissa = mantissa
                .checked_mul(10)?
                .checked_add(i128::from(digit - b'0'))?;
        }
        if value.is_sign_negative() {
            mantissa = -mantissa;
        }
        Some(Dec { mantissa, scale })
    }

    pub(super) fn mul(self, other: Dec) -> Option<Dec> {
        let scale = self.scale + other.scale;
        if scale > MAX_SCALE {
            return None;
        }
        Some(Dec {
            mantissa: self.mantissa.checked_mul(other.mantissa)?,
            scale,
        })
    }

    pub(super) fn add(self, other: Dec) -> Option<Dec> {
        let scale = self.scale.max(other.scale);
        let a = self.rescale(scale)?;
        let b = other.rescale(scale)?;
        Some(Dec {
            mantissa: a.checked_add(b)?,
            scale,
        })
    }

    /// The mantissa expressed at a larger `scale`.
    fn rescale(self, scale: u32) -> Option<i128> {
        self.mantissa
            .checked_mul(10i128.checked_pow(scale - self.scale)?)
    }

    /// `mantissa / 10^scale`, for exact values of other types (scale at most 36).
    pub(super) fn exact(mantissa: i128, scale: u32) -> Dec {
        Dec {
            mantissa,
            scale: scale.min(MAX_SCALE),
        }
    }

    /// `hundredths / 100`, e.g. 45 for 0.45.
    pub(super) fn hundredths(hundredths: i64) -> Dec {
        Dec {
            mantissa: i128::from(hundredths),
            scale: 2,
        }
    }

    /// Truncated toward zero (Go's `int(x)`), saturated to `i64`.
    pub(super) fn trunc(self) -> i64 {
        let whole = self.mantissa / 10i128.pow(self.scale);
        i64::try_from(whole).unwrap_or(if whole < 0 { i64::MIN } else { i64::MAX })
    }

    /// Rounded half away from zero, saturated to `i64`.
    pub(super) fn round(self) -> i64 {
        // scale <= 36, so the power and twice the remainder fit.
        let unit = 10i128.pow(self.scale);
        let mut whole = self.mantissa / unit;
        let rest = self.mantissa % unit;
        if rest.abs() * 2 >= unit && rest != 0 {
            whole += self.mantissa.signum();
        }
        i64::try_from(whole).unwrap_or(if whole < 0 { i64::MIN } else { i64::MAX })
    }
}

#[cfg(test)]
mod tests {
    use super::Dec;

    #[test]
    fn shortest_decimal_forms_are_exact() {
        let d = Dec::from_f64(0.145).unwrap();
        assert_eq!((d.mantissa, d.scale), (145, 3));
        assert_eq!(d.mul(Dec::int(100)).unwrap().round(), 15);
        // Binary floating point gets this one wrong, which is why this module exists.
        assert_eq!((0.145f64 * 100.0).round(), 14.0);
        let small = Dec::from_f64(1e-7).unwrap();
        assert_eq!((small.mantissa, small.scale), (1, 7));
        assert!(Dec::from_f64(f64::NAN).is_none());
        assert!(Dec::from_f64(5e-324).is_none());
        assert!(Dec::from_f64(1e300).is_none());
    }

    #[test]
    fn rounding_is_half_away_from_zero() {
        let half = Dec::from_f64(2.5).unwrap();
        assert_eq!(half.round(), 3);
        assert_eq!(Dec::from_f64(-2.5).unwrap().round(), -3);
        assert_eq!(Dec::from_f64(2.49).unwrap().round(), 2);
        assert_eq!(Dec::int(7).round(), 7);
        let sum = Dec::from_f64(0.25).unwrap().add(Dec::int(1)).unwrap();
        assert_eq!(sum.round(), 1);
    }

    #[test]
    fn overflow_is_reported_not_wrapped() {
        let big = Dec::int(i64::MAX);
        let product = big.mul(big).unwrap().mul(big);
        assert!(product.is_none());
        let huge = Dec {
            mantissa: i128::MAX,
            scale: 0,
        };
        assert_eq!(huge.round(), i64::MAX);
    }
}
