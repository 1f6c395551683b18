//! Seed 001's price multipliers (a channel's per-group multiplier, a channel-model's, a user
//! channel's): exact decimals above 0, kept as `mantissa / 10^scale` so that a price multiplied
//! by 1.1 is exactly 1.1 times it, never 1.1000000000000001 times.

use super::decimal::Dec;
use std::collections::BTreeMap;
use std::fmt;

/// Decimal places a multiplier may have.
pub const MULTIPLIER_MAX_DECIMALS: u32 = 6;
/// The largest multiplier accepted (a typo guard; 100x the price is already absurd).
pub const MULTIPLIER_MAX: i64 = 100;

/// An exact positive decimal that multiplies a price.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Multiplier {
    mantissa: i64,
    scale: u32,
}

impl Default for Multiplier {
    fn default() -> Self {
        Multiplier::ONE
    }
}

impl Multiplier {
    /// 1: the price unchanged.
    pub const ONE: Multiplier = Multiplier {
        mantissa: 1,
        scale: 0,
    };

    /// Parses decimal text (`"1.25"`, `"2"`): above 0, at most [`MULTIPLIER_MAX`], with at most
    /// [`MULTIPLIER_MAX_DECIMALS`] decimal places; `Err` says what is wrong, for the caller.
    pub fn parse(text: &str) -> Result<Multiplier, String> {
        let text = text.trim();
        let invalid = || format!("{text:?} is not a decimal number");
        let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
        if whole.is_empty() && fraction.is_empty()
            || !whole
                .bytes()
                .chain(fraction.bytes())
                .all(|b| b.is_ascii_digit())
        {
            return Err(invalid());
        }
        let fraction = fraction.trim_end_matches('0');
        let scale = u32::try_from(fraction.len()).map_err(|_| invalid())?;
        if scale > MULTIPLIER_MAX_DECIMALS {
            return Err(format!(
                "{text} has more than {MULTIPLIER_MAX_DECIMALS} decimal places"
            ));
        }
        let whole = whole.trim_start_matches('0');
        if whole.len() > 3 {
            return Err(format!("{text} is above {MULTIPLIER_MAX}"));
        }
        let mut mantissa: i64 = 0;
        for digit in whole.bytes().chain(fraction.bytes()) {
            mantissa = mantissa * 10 + i64::from(digit - b'0');
        }
        let multiplier = Multiplier { mantissa, scale };
        if mantissa == 0 {
            return Err(format!("{text} is not above 0"));
        }
        if multiplier.exceeds(MULTIPLIER_MAX) {
            return Err(format!("{text} is above {MULTIPLIER_MAX}"));
        }
        Ok(multiplier)
    }

    /// A JSON number (read at its shortest decimal form, as new-api reads ratios) or numeric
    /// string, checked as [`Multiplier::parse`] does.
    pub fn from_json(value: &serde_json::Value) -> Result<Multiplier, String> {
        match value {
            serde_json::Value::Number(number) => {
                if number.as_f64().is_some_and(|n| n <= 0.0) {
                    return Err(format!("{number} is not above 0"));
                }
                // `Display` of a finite f64 is its shortest decimal form, without exponent.
                match number.as_f64() {
                    Some(float) if number.is_f64() => Multiplier::parse(&float.to_string()),
                    _ => Multiplier::parse(&number.to_string()),
                }
            }
            serde_json::Value::String(text) => Multiplier::parse(text),
            other => Err(format!("{other} is not a number")),
        }
    }

    /// Whether this is 1.
    pub fn is_one(self) -> bool {
        self == Multiplier::ONE || self.mantissa == 10i64.pow(self.scale)
    }

    /// `self * other`, exact (at most 12 decimal places and 10^4: always fits).
    pub fn times(self, other: Multiplier) -> Multiplier {
        Multiplier {
            mantissa: self.mantissa.saturating_mul(other.mantissa),
            scale: self.scale + other.scale,
        }
        .normalised()
    }

    /// The larger of two.
    pub fn max(self, other: Multiplier) -> Multiplier {
        let scale = self.scale.max(other.scale);
        if self.rescaled(scale) >= other.rescaled(scale) {
            self
        } else {
            other
        }
    }

    /// For JSON answers (display only: prices use the exact form).
    pub fn to_f64(self) -> f64 {
        self.to_string().parse().unwrap_or(1.0)
    }

    /// As an exact decimal of the price formula.
    pub(super) fn dec(self) -> Dec {
        Dec::exact(i128::from(self.mantissa), self.scale)
    }

    fn exceeds(self, limit: i64) -> bool {
        i128::from(self.mantissa) > i128::from(limit) * 10i128.pow(self.scale)
    }

    fn rescaled(self, scale: u32) -> i128 {
        i128::from(self.mantissa) * 10i128.pow(scale - self.scale)
    }

    /// Trailing zeros of the fraction dropped.
    fn normalised(mut self) -> Multiplier {
        while self.scale > 0 && self.mantissa % 10 == 0 {
            self.mantissa /= 10;
            self.scale -= 1;
        }
        self
    }
}

impl fmt::Display for Multiplier {
    /// The shortest decimal text: `1.5`, `2`, `0.000001`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let unit = 10i64.pow(self.scale);
        let whole = self.mantissa / unit;
        if self.scale == 0 {
            return write!(f, "{whole}");
        }
        let fraction = format!(
            "{:0width$}",
            self.mantissa % unit,
            width = self.scale as usize
        );
        let fraction = fraction.trim_end_matches('0');
        if fraction.is_empty() {
            write!(f, "{whole}")
        } else {
            write!(f, "{whole}.{fraction}")
        }
    }
}

/// Groups a map may name.
pub const GROUP_MULTIPLIERS_MAX: usize = 64;

/// Seed 001's per-group multipliers of a channel or a channel-model: group name -> multiplier.
/// Stored as a JSON object of decimal strings (`{"vip":"1.5"}`), shown with numbers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GroupMultipliers(BTreeMap<String, Multiplier>);

impl GroupMultipliers {
    /// An administrator's map: a JSON object of group -> number (or numeric string), `null` or
    /// `{}` for none. `Err` says what is wrong with it.
    pub fn from_json(value: &serde_json::Value) -> Result<GroupMultipliers, String> {
        let object = match value {
            serde_json::Value::Null => return Ok(GroupMultipliers::default()),
            serde_json::Value::Object(object) => object,
            other => {
                return Err(format!(
                    "group multipliers must be an object of group names to numbers, not {other}"
                ));
            }
        };
        if object.len() > GROUP_MULTIPLIERS_MAX {
            return Err(format!(
                "at most {GROUP_MULTIPLIERS_MAX} groups may have a multiplier"
            ));
        }
        let mut map = BTreeMap::new();
        for (group, value) in object {
            let group = group.trim();
            if group.is_empty() || group.len() > 64 || group.contains(',') {
                return Err(format!("{group:?} is no group name"));
            }
            let multiplier = Multiplier::from_json(value)
                .map_err(|problem| format!("the multiplier of group {group}: {problem}"))?;
            map.insert(group.to_string(), multiplier);
        }
        Ok(GroupMultipliers(map))
    }

    /// The stored form (empty text: none); `Err` for a value that is not one (the caller
    /// reports the row and uses none).
    pub fn parse_stored(text: &str) -> Result<GroupMultipliers, String> {
        if text.trim().is_empty() {
            return Ok(GroupMultipliers::default());
        }
        let value: serde_json::Value =
            serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
        GroupMultipliers::from_json(&value)
    }

    /// The stored form: empty when there are none.
    pub fn to_stored(&self) -> String {
        if self.0.is_empty() {
            return String::new();
        }
        let object: serde_json::Map<String, serde_json::Value> = self
            .0
            .iter()
            .map(|(group, m)| (group.clone(), m.to_string().into()))
            .collect();
        serde_json::Value::Object(object).to_string()
    }

    /// As an API answer shows it: `{"vip": 1.5}`.
    pub fn view(&self) -> serde_json::Value {
        let object: serde_json::Map<String, serde_json::Value> = self
            .0
            .iter()
            .map(|(group, m)| (group.clone(), m.to_f64().into()))
            .collect();
        serde_json::Value::Object(object)
    }

    /// The multiplier of `group`, when it has one.
    pub fn get(&self, group: &str) -> Option<Multiplier> {
        self.0.get(group).copied()
    }

    /// Whether no group has one.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parses_exact_decimals_and_refuses_the_rest() {
        assert_eq!(Multiplier::parse("1.5").unwrap().to_string(), "1.5");
        assert_eq!(Multiplier::parse("2.000").unwrap().to_string(), "2");
        assert_eq!(Multiplier::parse(".25").unwrap().to_string(), "0.25");
        assert_eq!(Multiplier::parse("100").unwrap().to_string(), "100");
        assert!(Multiplier::parse("1").unwrap().is_one());
        assert!(Multiplier::parse("1.0").unwrap().is_one());
        for bad in [
            "0",
            "0.0",
            "-1",
            "abc",
            "",
            ".",
            "1e3",
            "100.000001",
            "1.0000001",
            "1,5",
        ] {
            assert!(Multiplier::parse(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn reads_json_numbers_at_their_shortest_form() {
        assert_eq!(
            Multiplier::from_json(&json!(1.1)).unwrap().to_string(),
            "1.1"
        );
        assert_eq!(Multiplier::from_json(&json!(3)).unwrap().to_string(), "3");
        assert_eq!(
            Multiplier::from_json(&json!("0.8")).unwrap().to_string(),
            "0.8"
        );
        assert!(Multiplier::from_json(&json!(0)).is_err());
        assert!(Multiplier::from_json(&json!(-0.5)).is_err());
        assert!(Multiplier::from_json(&json!(null)).is_err());
        assert!(Multiplier::from_json(&json!(true)).is_err());
    }

    #[test]
    fn group_maps_round_trip_and_refuse_bad_entries() {
        let map = GroupMultipliers::from_json(&json!({"vip": 1.5, "default": "0.9"})).unwrap();
        assert_eq!(map.to_stored(), r#"{"default":"0.9","vip":"1.5"}"#);
        assert_eq!(
            GroupMultipliers::parse_stored(&map.to_stored()).unwrap(),
            map
        );
        assert_eq!(map.view(), json!({"default": 0.9, "vip": 1.5}));
        assert_eq!(map.get("vip").unwrap().to_string(), "1.5");
        assert!(map.get("svip").is_none());
        assert!(
            GroupMultipliers::from_json(&json!(null))
                .unwrap()
                .is_empty()
        );
        assert_eq!(GroupMultipliers::parse_stored("").unwrap().to_stored(), "");
        for bad in [
            json!({"vip": 0}),
            json!({"vip": -1}),
            json!({"": 1}),
            json!([1]),
            json!({"a,b": 1}),
        ] {
            assert!(GroupMultipliers::from_json(&bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn products_are_exact() {
        let a = Multiplier::parse("1.1").unwrap();
        assert_eq!(a.times(a).to_string(), "1.21");
        let b = Multiplier::parse("0.5").unwrap();
        assert_eq!(a.times(b).to_string(), "0.55");
        assert_eq!(b.times(Multiplier::parse("2").unwrap()), Multiplier::ONE);
        assert_eq!(a.max(b), a);
        assert_eq!(b.max(a), a);
        assert_eq!(a.to_f64(), 1.1);
    }
}
