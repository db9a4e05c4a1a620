//! Exact rational arithmetic for the strategy.
//!
//! Prices, spreads, inventory ratios and skews combine decimals by multiplication and
//! division; [`Decimal`] would round such results to 28 digits without telling anyone. Every
//! intermediate value here is an exact fraction of big integers instead, so the only
//! rounding in the strategy is the explicit, documented rounding to the tick and lot grid
//! ([`Exact::floor_u64`], [`Exact::ceil_u64`]).

use std::cmp::Ordering;

use alloy_primitives::ruint::aliases::U1024;
use dex_primitives::Decimal;

use crate::Error;

type Big = U1024;

/// Numerators and denominators are kept below this many bits, so that the product of two of
/// them (in additions, multiplications and comparisons) never overflows 1024 bits. Decimal
/// inputs need at most 96 + 94 bits; the strategy multiplies a handful of them, so real
/// values stay far below the bound. Crossing it is an [`Error::ArithmeticOverflow`], never a
/// silent wrap.
const MAX_BITS: usize = 510;

/// An exact signed fraction, always reduced (gcd 1, positive denominator, zero is positive).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct Exact {
    negative: bool,
    num: Big,
    den: Big,
}

impl std::fmt::Debug for Exact {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let sign = if self.negative { "-" } else { "" };
        write!(f, "{sign}{}/{}", self.num, self.den)
    }
}

fn pow10(exponent: u32) -> Big {
    let mut value = Big::ONE;
    for _ in 0..exponent {
        // At most 10^28 (a Decimal's largest scale), far below 2^1024.
        value *= Big::from(10u8);
    }
    value
}

impl Exact {
    pub(crate) const ZERO: Exact = Exact {
        negative: false,
        num: Big::ZERO,
        den: Big::ONE,
    };

    pub(crate) const ONE: Exact = Exact {
        negative: false,
        num: Big::ONE,
        den: Big::ONE,
    };

    /// Builds a reduced fraction; fails if it does not fit the bound or `den` is zero.
    fn new(negative: bool, num: Big, den: Big) -> Result<Exact, Error> {
        if den.is_zero() {
            return Err(Error::ArithmeticOverflow);
        }
        if num.is_zero() {
            return Ok(Exact::ZERO);
        }
        let gcd = num.gcd(den);
        let (num, den) = (num / gcd, den / gcd);
        if num.bit_len() > MAX_BITS || den.bit_len() > MAX_BITS {
            return Err(Error::ArithmeticOverflow);
        }
        Ok(Exact { negative, num, den })
    }

    /// The exact value of a decimal.
    pub(crate) fn from_decimal(value: Decimal) -> Exact {
        let num = Big::from(value.mantissa().unsigned_abs());
        let den = pow10(value.scale());
        // A mantissa below 2^96 over at most 10^28 is within the bound and den is not zero.
        Exact::new(value.is_sign_negative(), num, den)
            .expect("a decimal's mantissa and scale are within the bound")
    }

    /// The exact value of an integer.
    pub(crate) fn from_int(value: u128) -> Exact {
        Exact::new(false, Big::from(value), Big::ONE).expect("a u128 is within the bound")
    }

    pub(crate) fn is_zero(&self) -> bool {
        self.num.is_zero()
    }

    pub(crate) fn is_negative(&self) -> bool {
        self.negative
    }

    pub(crate) fn is_positive(&self) -> bool {
        !self.negative && !self.num.is_zero()
    }

    pub(crate) fn neg(self) -> Exact {
        if self.is_zero() {
            self
        } else {
            Exact {
                negative: !self.negative,
                ..self
            }
        }
    }

    pub(crate) fn add(self, other: Exact) -> Result<Exact, Error> {
        // Both fractions are below 2^510 / 2^510, so these products and their sum fit.
        let left = self.num * other.den;
        let right = other.num * self.den;
        let den = self.den * other.den;
        if self.negative == other.negative {
            Exact::new(self.negative, left + right, den)
        } else if left >= right {
            Exact::new(self.negative, left - right, den)
        } else {
            Exact::new(other.negative, right - left, den)
        }
    }

    pub(crate) fn sub(self, other: Exact) -> Result<Exact, Error> {
        self.add(other.neg())
    }

    pub(crate) fn mul(self, other: Exact) -> Result<Exact, Error> {
        Exact::new(
            self.negative != other.negative,
            self.num * other.num,
            self.den * other.den,
        )
    }

    /// `self / other`; dividing by zero is an [`Error::ArithmeticOverflow`].
    pub(crate) fn div(self, other: Exact) -> Result<Exact, Error> {
        Exact::new(
            self.negative != other.negative,
            self.num * other.den,
            self.den * other.num,
        )
    }

    pub(crate) fn min(self, other: Exact) -> Exact {
        if other < self { other } else { self }
    }

    pub(crate) fn max(self, other: Exact) -> Exact {
        if other > self { other } else { self }
    }

    /// The largest integer ≤ self, if it is in `0..=u64::MAX`.
    pub(crate) fn floor_u64(&self) -> Option<u64> {
        if self.negative {
            return None;
        }
        u64::try_from(&(self.num / self.den)).ok()
    }

    /// The smallest integer ≥ self, if it is in `0..=u64::MAX`.
    pub(crate) fn ceil_u64(&self) -> Option<u64> {
        if self.negative {
            // Between -1 and 0 the ceiling is 0; below that it is negative.
            return (self.num < self.den).then_some(0);
        }
        let (quotient, remainder) = self.num.div_rem(self.den);
        let quotient = if remainder.is_zero() {
            quotient
        } else {
            quotient + Big::ONE
        };
        u64::try_from(&quotient).ok()
    }

    /// The value truncated toward zero to `scale` decimal places, for display only (logs):
    /// decisions never use it. `None` if it does not fit a [`Decimal`].
    pub(crate) fn to_display_decimal(self, scale: u32) -> Option<Decimal> {
        let scaled = (self.num * pow10(scale.min(28))) / self.den;
        let mantissa = i128::try_from(&scaled).ok()?;
        let mantissa = if self.negative { -mantissa } else { mantissa };
        Decimal::try_from_i128_with_scale(mantissa, scale.min(28))
            .ok()
            .map(|value| value.normalize())
    }
}

impl PartialOrd for Exact {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Exact {
    fn cmp(&self, other: &Self) -> Ordering {
        match (self.negative, other.negative) {
            (false, true) => Ordering::Greater,
            (true, false) => Ordering::Less,
            (negative, _) => {
                // Cross-multiplied magnitudes; both products fit (see MAX_BITS).
                let magnitude = (self.num * other.den).cmp(&(other.num * self.den));
                if negative {
                    magnitude.reverse()
                } else {
                    magnitude
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use proptest::prelude::*;

    use super::*;

    fn dec(text: &str) -> Decimal {
        Decimal::from_str(text).unwrap()
    }

    fn exact(text: &str) -> Exact {
        Exact::from_decimal(dec(text))
    }

    #[test]
    fn arithmetic_is_exact_where_decimal_would_round() {
        // 1/3 · 3 is exactly 1 here; with Decimal it is 0.9999999999999999999999999999.
        let third = Exact::from_int(1).div(Exact::from_int(3)).unwrap();
        assert_eq!(third.mul(Exact::from_int(3)).unwrap(), Exact::from_int(1));
        assert_ne!(
            (Decimal::ONE / Decimal::from(3)) * Decimal::from(3),
            Decimal::ONE
        );
        assert_eq!(exact("0.1").add(exact("0.2")).unwrap(), exact("0.3"));
        assert_eq!(exact("-1.5").sub(exact("2.5")).unwrap(), exact("-4"));
        assert_eq!(exact("-1.5").mul(exact("-2")).unwrap(), exact("3"));
        assert!(exact("-0").is_zero() && !exact("-0").is_negative());
    }

    #[test]
    fn rounding_to_integers() {
        assert_eq!(exact("2.5").floor_u64(), Some(2));
        assert_eq!(exact("2.5").ceil_u64(), Some(3));
        assert_eq!(exact("3").floor_u64(), Some(3));
        assert_eq!(exact("3").ceil_u64(), Some(3));
        assert_eq!(exact("-0.5").floor_u64(), None);
        assert_eq!(exact("-0.5").ceil_u64(), Some(0));
        assert_eq!(exact("-1.5").ceil_u64(), None);
        let max = Exact::from_int(u128::from(u64::MAX));
        assert_eq!(max.floor_u64(), Some(u64::MAX));
        let above = max.add(exact("0.5")).unwrap();
        assert_eq!(above.floor_u64(), Some(u64::MAX));
        assert_eq!(above.ceil_u64(), None);
    }

    #[test]
    fn division_by_zero_and_huge_values_are_errors() {
        assert_eq!(
            Exact::from_int(1).div(Exact::ZERO),
            Err(Error::ArithmeticOverflow)
        );
        let big = Exact::from_int(u128::MAX);
        let mut value = big;
        let mut result = Ok(value);
        for _ in 0..8 {
            result = value.mul(big);
            match result {
                Ok(next) => value = next,
                Err(_) => break,
            }
        }
        assert_eq!(result, Err(Error::ArithmeticOverflow));
    }

    #[test]
    fn display_truncates_toward_zero() {
        let two_thirds = Exact::from_int(2).div(Exact::from_int(3)).unwrap();
        assert_eq!(two_thirds.to_display_decimal(4), Some(dec("0.6666")));
        assert_eq!(two_thirds.neg().to_display_decimal(4), Some(dec("-0.6666")));
    }

    fn decimal_strategy() -> impl Strategy<Value = Decimal> {
        (any::<i32>(), 0u32..=8).prop_map(|(mantissa, scale)| Decimal::new(mantissa.into(), scale))
    }

    proptest! {
        /// Where Decimal is exact (sums and products of small values), both agree, and the
        /// order of fractions is the order of the decimals.
        #[test]
        fn agrees_with_decimal_where_decimal_is_exact(
            a in decimal_strategy(),
            b in decimal_strategy(),
        ) {
            let (x, y) = (Exact::from_decimal(a), Exact::from_decimal(b));
            prop_assert_eq!(x.add(y).unwrap(), Exact::from_decimal(a + b));
            prop_assert_eq!(x.sub(y).unwrap(), Exact::from_decimal(a - b));
            prop_assert_eq!(x.mul(y).unwrap(), Exact::from_decimal(a * b));
            prop_assert_eq!(x.cmp(&y), a.cmp(&b));
            if !b.is_zero() {
                prop_assert_eq!(x.div(y).unwrap().mul(y).unwrap(), x);
            }
        }

        /// floor ≤ value ≤ ceil, and they differ by one exactly off the integers.
        #[test]
        fn floor_and_ceil_bracket_the_value(a in decimal_strategy()) {
            let x = Exact::from_decimal(a.abs());
            let floor = x.floor_u64().unwrap();
            let ceil = x.ceil_u64().unwrap();
            prop_assert!(Exact::from_int(floor.into()) <= x);
            prop_assert!(Exact::from_int(ceil.into()) >= x);
            prop_assert_eq!(ceil - floor, u64::from(a.fract() != Decimal::ZERO));
        }
    }
}
