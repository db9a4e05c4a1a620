use dex_primitives::{Lots, Update};
use dex_protocol::{Error, GossipMessage, MAX_GOSSIP_SIZE, WireMessage};
use dex_test_utils::{OrderBuilder, T0, trader};
use proptest::prelude::*;

#[test]
fn order_message_is_tagged_by_type_with_the_signed_fields_beside_it() {
    let signed = OrderBuilder::new().sign();
    let bytes = GossipMessage::Order(signed.clone()).encode().unwrap();
    let json: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(json["type"], "order");
    assert_eq!(json["order"]["price"], 100);
    assert_eq!(json["signature"], signed.signature.to_hex());
    assert_eq!(
        GossipMessage::decode(&bytes).unwrap(),
        GossipMessage::Order(signed)
    );
}

#[test]
fn oversized_messages_are_refused_before_parsing() {
    // Not even JSON: only the length is looked at.
    let bytes = vec![b'x'; MAX_GOSSIP_SIZE + 1];
    assert_eq!(
        GossipMessage::decode(&bytes),
        Err(Error::TooLarge {
            size: MAX_GOSSIP_SIZE + 1,
            max: MAX_GOSSIP_SIZE
        })
    );
}

#[test]
fn malformed_messages_say_why() {
    for bytes in [
        &b"{"[..],
        br#"{"type":"teleport"}"#,
        br#"{"type":"order"}"#,
        br#"{"type":"update","update":{"orderId":"0x12","remaining":1,"timestamp":1},"signature":"0x00"}"#,
    ] {
        let err = GossipMessage::decode(bytes).unwrap_err();
        assert!(matches!(err, Error::Malformed { .. }), "{err:?}");
        assert!(err.is_fault());
    }
}

#[test]
fn the_type_must_match_the_signed_field() {
    let signed = OrderBuilder::new().sign();
    let mut json = serde_json::to_value(GossipMessage::Order(signed)).unwrap();
    json["type"] = serde_json::json!("alive");
    let err = GossipMessage::decode(&serde_json::to_vec(&json).unwrap()).unwrap_err();
    assert!(
        matches!(&err, Error::Malformed { reason } if reason.contains("exactly the field `alive`")),
        "{err:?}"
    );
}

#[test]
fn unknown_fields_are_refused() {
    let signed = OrderBuilder::new().sign();
    let mut json = serde_json::to_value(GossipMessage::Order(signed)).unwrap();
    json["extra"] = serde_json::json!(1);
    let bytes = serde_json::to_vec(&json).unwrap();
    assert!(matches!(
        GossipMessage::decode(&bytes),
        Err(Error::Malformed { .. })
    ));
}

proptest! {
    #[test]
    fn gossip_messages_round_trip(price in 1u64.., quantity in 1u64.., nonce: u64, remaining: u64, kind in 0u8..2) {
        let builder = OrderBuilder::new().price(price).quantity(quantity).nonce(nonce);
        let message = if kind == 0 {
            GossipMessage::Order(builder.sign())
        } else {
            let update = Update { order_id: builder.order().id(), remaining: Lots(remaining), timestamp: T0 };
            GossipMessage::Update(update.sign(&trader(0)))
        };
        let bytes = message.encode().unwrap();
        prop_assert_eq!(GossipMessage::decode(&bytes).unwrap(), message);
    }
}
