use dex_primitives::{Alive, B256, Lots, Signature, SignedOrder, Update, ValidationRules};
use dex_protocol::{
    ALIVE_TOPIC, Error, GossipMessage, MAX_GOSSIP_SIZE, ValidationContext, Verdict,
    VerifiedMessage, WireMessage, decode_ahead, market_topic, validate_decoded,
};
use dex_test_utils::{HOUR_MS, OrderBuilder, T0, TEST_PEER, eth_usdc_id, markets, trader};

use crate::seen::Seen;

const RULES: ValidationRules = ValidationRules {
    max_clock_skew_ms: 30_000,
    max_lifetime_ms: 7 * 24 * HOUR_MS,
};

fn ctx<'a>(seen: &'a Seen, topic: Option<&'a str>) -> ValidationContext<'a, Seen> {
    ValidationContext {
        markets: markets(),
        rules: &RULES,
        seen,
        topic,
        alive_max_age_ms: 90_000,
    }
}

/// Judges `bytes` both ways, in one step ([`dex_protocol::validate`]) and with the decoding
/// and recovery done ahead (as a node's verification pool does): the verdicts must be the
/// same, and that is the one returned.
fn validate(bytes: &[u8], now: u64, ctx: &ValidationContext<'_, Seen>) -> Verdict {
    let verdict = dex_protocol::validate(bytes, now, ctx);
    assert_eq!(
        validate_decoded(decode_ahead(bytes), now, ctx),
        verdict,
        "the verdict with the work done ahead differs"
    );
    verdict
}

fn order_bytes(signed: SignedOrder) -> Vec<u8> {
    GossipMessage::Order(signed).encode().unwrap()
}

fn with_bad_signature(mut signed: SignedOrder) -> SignedOrder {
    // Another key's valid signature: recovery works, signer differs.
    signed.signature = signed.order.clone().sign(&trader(9)).signature;
    signed
}

#[test]
fn a_valid_order_is_accepted() {
    let seen = Seen::default();
    let signed = OrderBuilder::new().sign();
    let topic = market_topic(&eth_usdc_id());
    match validate(&order_bytes(signed.clone()), T0, &ctx(&seen, Some(&topic))) {
        Verdict::Accept(VerifiedMessage::Order(order)) => assert_eq!(order.signed(), &signed),
        other => panic!("{other:?}"),
    }
}

#[test]
fn bad_signatures_malformed_and_oversized_are_rejected() {
    let seen = Seen::default();
    let ctx = ctx(&seen, None);
    let bad = with_bad_signature(OrderBuilder::new().sign());
    assert!(matches!(
        validate(&order_bytes(bad), T0, &ctx),
        Verdict::Reject(Error::Invalid {
            source: dex_primitives::Error::SignerMismatch { .. },
            ..
        })
    ));
    let mut high_s = OrderBuilder::new().sign();
    high_s.signature = Signature([0xff; 65]);
    assert!(matches!(
        validate(&order_bytes(high_s), T0, &ctx),
        Verdict::Reject(Error::Invalid { .. })
    ));
    assert!(matches!(
        validate(b"{not json", T0, &ctx),
        Verdict::Reject(Error::Malformed { .. })
    ));
    assert!(matches!(
        validate(&vec![b' '; MAX_GOSSIP_SIZE + 1], T0, &ctx),
        Verdict::Reject(Error::TooLarge { .. })
    ));
    // A broken trading rule is the maker's fault, whatever the receiver's configuration.
    let zero_min_fill = OrderBuilder::new().min_fill(0).sign();
    assert!(matches!(
        validate(&order_bytes(zero_min_fill), T0, &ctx),
        Verdict::Reject(Error::Invalid { .. })
    ));
}

#[test]
fn duplicates_are_ignored_before_any_signature_work() {
    let order = OrderBuilder::new().verified();
    let mut seen = Seen::with_open(order.clone());
    // The duplicate carries a bad signature: were it checked, the verdict would be Reject.
    let bytes = order_bytes(with_bad_signature(order.signed().clone()));
    assert_eq!(
        validate(&bytes, T0, &ctx(&seen, None)),
        Verdict::Ignore(Error::DuplicateOrder { id: order.id() })
    );
    // A removed (cancelled) order stays a duplicate: a replay does not resurrect it.
    seen.open.clear();
    seen.removed.push(order.id());
    assert!(matches!(
        validate(&order_bytes(order.signed().clone()), T0, &ctx(&seen, None)),
        Verdict::Ignore(Error::DuplicateOrder { .. })
    ));
}

#[test]
fn expired_future_and_unknown_market_orders_are_ignored_not_rejected() {
    let seen = Seen::default();
    let ctx = ctx(&seen, None);
    let expired = OrderBuilder::new().sign();
    assert!(matches!(
        validate(&order_bytes(expired), T0 + 2 * HOUR_MS, &ctx),
        Verdict::Ignore(Error::Invalid {
            source: dex_primitives::Error::Expired { .. },
            ..
        })
    ));
    let future = OrderBuilder::new().created_at(T0 + 60_000).sign();
    assert!(matches!(
        validate(&order_bytes(future), T0, &ctx),
        Verdict::Ignore(Error::Invalid { .. })
    ));
    let unknown = OrderBuilder::new()
        .market(dex_primitives::MarketId(B256::repeat_byte(7)))
        .sign();
    assert!(matches!(
        validate(&order_bytes(unknown), T0, &ctx),
        Verdict::Ignore(Error::UnknownMarket { .. })
    ));
}

#[test]
fn an_order_on_the_wrong_topic_is_rejected() {
    let seen = Seen::default();
    let signed = OrderBuilder::new().sign();
    assert!(matches!(
        validate(&order_bytes(signed), T0, &ctx(&seen, Some(ALIVE_TOPIC))),
        Verdict::Reject(Error::WrongTopic { .. })
    ));
}

#[test]
fn updates_are_checked_against_the_known_order() {
    let order = OrderBuilder::new().quantity(10).verified();
    let seen = Seen::with_open(order.clone());
    let ctx = ctx(&seen, Some(""));
    let topic = market_topic(&order.market());
    let ctx = ValidationContext {
        topic: Some(&topic),
        ..ctx
    };
    let update = |remaining: u64, key: u64| {
        let update = Update {
            order_id: order.id(),
            remaining: Lots(remaining),
            timestamp: T0 + 1,
        };
        GossipMessage::Update(update.sign(&trader(key)))
            .encode()
            .unwrap()
    };
    assert!(matches!(
        validate(&update(4, 0), T0 + 1, &ctx),
        Verdict::Accept(VerifiedMessage::Update(u)) if u.remaining() == Lots(4)
    ));
    // Not lower than known: stale, and not even verified (the signer is wrong too).
    assert!(matches!(
        validate(&update(10, 9), T0 + 1, &ctx),
        Verdict::Ignore(Error::StaleUpdate { .. })
    ));
    assert!(matches!(
        validate(&update(3, 9), T0 + 1, &ctx),
        Verdict::Reject(Error::Invalid { what: "update", .. })
    ));
    let empty = Seen::default();
    let unknown_ctx = ValidationContext {
        seen: &empty,
        ..ctx
    };
    assert!(matches!(
        validate(&update(3, 0), T0 + 1, &unknown_ctx),
        Verdict::Ignore(Error::UnknownOrder { .. })
    ));
}

#[test]
fn alive_must_be_newer_than_the_last_and_recent() {
    let key = trader(0);
    let alive = |timestamp: u64| {
        let alive = Alive {
            maker: key.address(),
            peer: TEST_PEER.into(),
            market: eth_usdc_id(),
            open_orders: 1,
            orders_root: B256::ZERO,
            timestamp,
        };
        GossipMessage::Alive(alive.sign(&key)).encode().unwrap()
    };
    let mut seen = Seen::default();
    assert!(matches!(
        validate(&alive(T0), T0, &ctx(&seen, Some(ALIVE_TOPIC))),
        Verdict::Accept(VerifiedMessage::Alive(_))
    ));
    seen.alive.insert((key.address(), eth_usdc_id()), T0);
    assert!(matches!(
        validate(&alive(T0), T0, &ctx(&seen, Some(ALIVE_TOPIC))),
        Verdict::Ignore(Error::StaleAlive { .. })
    ));
    assert!(matches!(
        validate(&alive(T0 + 5), T0 + 5, &ctx(&seen, Some(ALIVE_TOPIC))),
        Verdict::Accept(_)
    ));
    // Older than the liveness window: the maker is already gone, a replay cannot revive it.
    let empty = Seen::default();
    assert!(matches!(
        validate(&alive(T0), T0 + 100_000, &ctx(&empty, Some(ALIVE_TOPIC))),
        Verdict::Ignore(Error::StaleAlive { .. })
    ));
    let topic = market_topic(&eth_usdc_id());
    assert!(matches!(
        validate(&alive(T0), T0, &ctx(&empty, Some(&topic))),
        Verdict::Reject(Error::WrongTopic { .. })
    ));
}
