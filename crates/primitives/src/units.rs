//! Integer units: prices in ticks, quantities in lots, and the side of an order.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::Error;

/// A price as a whole number of the market's ticks. Converted from and to decimal strings
/// only at the edges, by [`crate::Market`].
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Ticks(pub u64);

/// A quantity as a whole number of the market's lots.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Lots(pub u64);

impl Lots {
    /// Zero lots.
    pub const ZERO: Lots = Lots(0);

    /// `self - other`, or `None` if that would be negative.
    pub fn checked_sub(self, other: Lots) -> Option<Lots> {
        self.0.checked_sub(other.0).map(Lots)
    }

    /// `self + other`, or `None` on overflow.
    pub fn checked_add(self, other: Lots) -> Option<Lots> {
        self.0.checked_add(other.0).map(Lots)
    }

    /// `self - other`, floored at zero.
    pub fn saturating_sub(self, other: Lots) -> Lots {
        Lots(self.0.saturating_sub(other.0))
    }

    /// True when zero.
    pub fn is_zero(self) -> bool {
        self.0 == 0
    }
}

impl fmt::Display for Ticks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ticks", self.0)
    }
}

impl fmt::Display for Lots {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} lots", self.0)
    }
}

/// The side of an order, from the maker's point of view of the base asset.
/// Encoded as `uint8` in EIP-712 and as the number 0 or 1 in JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Side {
    /// Buys base, pays quote (`0`).
    Buy,
    /// Sells base, receives quote (`1`).
    Sell,
}

impl Side {
    /// The EIP-712 / JSON encoding.
    pub const fn as_u8(self) -> u8 {
        match self {
            Side::Buy => 0,
            Side::Sell => 1,
        }
    }

    /// The other side.
    pub const fn opposite(self) -> Side {
        match self {
            Side::Buy => Side::Sell,
            Side::Sell => Side::Buy,
        }
    }

    /// `"buy"` or `"sell"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Side::Buy => "buy",
            Side::Sell => "sell",
        }
    }
}

impl TryFrom<u8> for Side {
    type Error = Error;

    fn try_from(side: u8) -> Result<Self, Error> {
        match side {
            0 => Ok(Side::Buy),
            1 => Ok(Side::Sell),
            side => Err(Error::InvalidSide { side }),
        }
    }
}

impl fmt::Display for Side {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Side {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_u8(self.as_u8())
    }
}

impl<'de> Deserialize<'de> for Side {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let side = u8::deserialize(deserializer)?;
        Side::try_from(side).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn side_encoding_round_trips_and_rejects_others() {
        assert_eq!(Side::try_from(0).unwrap(), Side::Buy);
        assert_eq!(Side::try_from(1).unwrap(), Side::Sell);
        assert_eq!(Side::try_from(2), Err(Error::InvalidSide { side: 2 }));
        assert_eq!(Side::Buy.opposite(), Side::Sell);
    }
}
