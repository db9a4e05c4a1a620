//! Gossip messages and topics.

use dex_primitives::{MarketId, SignedAlive, SignedOrder, SignedUpdate};
use serde::{Deserialize, Serialize};

use crate::{MAX_GOSSIP_SIZE, WireMessage};

/// Prefix of the per-market topics; the market id follows as 64 lowercase hex digits.
pub const MARKET_TOPIC_PREFIX: &str = "p2pdex/1/market/";
/// The topic of `alive` heartbeats, shared by all markets.
pub const ALIVE_TOPIC: &str = "p2pdex/1/alive";

/// The topic carrying orders and updates of `market`: `p2pdex/1/market/<64 hex digits>`.
pub fn market_topic(market: &MarketId) -> String {
    format!(
        "{MARKET_TOPIC_PREFIX}{}",
        alloy_primitives::hex::encode(market.0)
    )
}

/// The market of a market topic, or `None` for any other topic.
pub fn market_of_topic(topic: &str) -> Option<MarketId> {
    let hex = topic.strip_prefix(MARKET_TOPIC_PREFIX)?;
    // Lowercase only, as `market_topic` writes it: one topic per market.
    if hex.len() != 64 || hex.bytes().any(|b| b.is_ascii_uppercase()) {
        return None;
    }
    let mut bytes = [0u8; 32];
    alloy_primitives::hex::decode_to_slice(hex, &mut bytes).ok()?;
    Some(MarketId(bytes.into()))
}

/// A gossiped message: JSON tagged by `type`, the signed message's own fields beside it:
/// `{"type":"order","order":{…},"signature":"0x…"}`,
/// `{"type":"update","update":{…},"signature":"0x…"}`,
/// `{"type":"alive","alive":{…},"signature":"0x…"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase", try_from = "Envelope<'_>")]
pub enum GossipMessage {
    /// A new order, on its market's topic.
    Order(SignedOrder),
    /// A lower remaining quantity (0 = cancel), on its order's market topic.
    Update(SignedUpdate),
    /// A maker's heartbeat for one market, on [`ALIVE_TOPIC`].
    Alive(SignedAlive),
}

/// The wire shape of every gossip message, read in one pass. Serde's internally tagged
/// enums buffer the whole object before choosing a variant (allocating every key and value
/// twice); on the ingest path that costs as much as the rest of decoding, so the message is
/// read flat and checked here instead.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Envelope<'a> {
    #[serde(rename = "type", borrow)]
    kind: std::borrow::Cow<'a, str>,
    order: Option<dex_primitives::Order>,
    update: Option<dex_primitives::Update>,
    alive: Option<dex_primitives::Alive>,
    signature: dex_primitives::Signature,
}

impl TryFrom<Envelope<'_>> for GossipMessage {
    type Error = String;

    fn try_from(envelope: Envelope<'_>) -> Result<Self, String> {
        let Envelope {
            kind,
            order,
            update,
            alive,
            signature,
        } = envelope;
        match (kind.as_ref(), order, update, alive) {
            ("order", Some(order), None, None) => {
                Ok(GossipMessage::Order(SignedOrder { order, signature }))
            }
            ("update", None, Some(update), None) => {
                Ok(GossipMessage::Update(SignedUpdate { update, signature }))
            }
            ("alive", None, None, Some(alive)) => {
                Ok(GossipMessage::Alive(SignedAlive { alive, signature }))
            }
            ("order" | "update" | "alive", ..) => Err(format!(
                "a {kind} message must carry exactly the field `{kind}` and a signature"
            )),
            _ => Err(format!(
                "unknown message type {:?}, expected order, update or alive",
                kind.chars().take(32).collect::<String>()
            )),
        }
    }
}

impl WireMessage for GossipMessage {
    const MAX_SIZE: usize = MAX_GOSSIP_SIZE;
}

impl GossipMessage {
    /// `order`, `update` or `alive`.
    pub fn kind(&self) -> &'static str {
        match self {
            GossipMessage::Order(_) => "order",
            GossipMessage::Update(_) => "update",
            GossipMessage::Alive(_) => "alive",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topics_round_trip() {
        let market = MarketId(alloy_primitives::B256::repeat_byte(0xab));
        let topic = market_topic(&market);
        assert_eq!(topic, format!("p2pdex/1/market/{}", "ab".repeat(32)));
        assert_eq!(market_of_topic(&topic), Some(market));
        assert_eq!(market_of_topic(ALIVE_TOPIC), None);
        assert_eq!(market_of_topic("p2pdex/1/market/abcd"), None);
        assert_eq!(market_of_topic(&topic.to_uppercase()), None);
        assert_eq!(
            market_of_topic(&format!("{MARKET_TOPIC_PREFIX}0x{}", "ab".repeat(31))),
            None
        );
    }
}
