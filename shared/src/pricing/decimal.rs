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
        Dec::from_short_f64(value).or_else(|| Dec::from_f64_text(value))
    }

    /// [`Dec::from_f64`] without formatting, for the ratios prices use (at most 9 decimal
    /// places): the first scale `s` at which `round(|value| * 10^s) / 10^s` reads back as
    /// `|value|`. Both operands of that division are exact in an `f64` (below 2^50 and 10^9),
    /// so the division is correctly rounded, which is what reading the decimal back gives;
    /// below 2^50 at most one integer at a scale reads back, so it is the shortest form.
    fn from_short_f64(value: f64) -> Option<Dec> {
        const EXACT_BELOW: f64 = 1_125_899_906_842_624.0; // 2^50
        let magnitude = value.abs();
        let mut power = 1.0_f64;
        for scale in 0..=9 {
            let scaled = (magnitude * power).round();
            if scaled >= EXACT_BELOW {
                return None;
            }
            if scaled / power == magnitude {
                #[expect(clippy::cast_possible_truncation, reason = "a whole number below 2^50")]
                let mantissa = scaled as i128;
                return Some(Dec {
                    mantissa: if value.is_sign_negative() {
                        -mantissa
                    } else {
                        mantissa
                    },
                    scale,
                });
            }
            power *= 10.0;
        }
        None
    }

    /// [`Dec::from_f64`] through `f64`'s shortest text form.
    fn from_f64_text(value: f64) -> Option<Dec> {
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
    fn the_fast_form_is_the_shortest_text_form() {
        let mut values = vec![
            0.0,
            1.0,
            0.5,
            0.1,
            0.2,
            0.3,
            0.145,
            2.5,
            37.5,
            0.0025,
            1e-7,
            1e-9,
            1.1e-9,
            0.75,
            1.0 / 3.0,
            2.0 / 3.0,
            0.07,
            123_456.789,
            1e15,
            3.000_000_001,
            0.999_999_999,
        ];
        // Every ratio with up to four decimals below 10, and a spread of awkward ones.
        values.extend((0..100_000).map(|i| f64::from(i) / 10_000.0));
        values.extend((1..5_000).map(|i| f64::from(i) * 0.003_7 + 1e-6 * f64::from(i % 7)));
        for value in values {
            for v in [value, -value] {
                let text = Dec::from_f64_text(v).unwrap();
                if let Some(fast) = Dec::from_short_f64(v) {
                    assert_eq!(
                        (fast.mantissa, fast.scale),
                        (text.mantissa, text.scale),
                        "{v}"
                    );
                }
            }
        }
        assert!(Dec::from_short_f64(0.145).is_some());
        assert!(Dec::from_short_f64(1.0 / 3.0).is_none());
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
