//! Property tests: exact unit conversion, JSON round-trips, signatures.

use dex_primitives::{
    Address, B256, Decimal, Lots, Market, MarketDef, Order, Side, Signature, SignedOrder, Ticks,
    TraderKey, U256, recover_signer,
};
use dex_test_utils::{TEST_PEER, eth_usdc};
use proptest::prelude::*;

/// Markets with varied decimals and step sizes.
fn market_strategy() -> impl Strategy<Value = Market> {
    (0u8..=18, 0u8..=18, 0u32..=12, 0u32..=6, 1u64..=9, 1u64..=9).prop_filter_map(
        "exact steps",
        |(base_decimals, quote_decimals, lot_exp, tick_exp, lot_digit, tick_digit)| {
            let def = MarketDef {
                base_decimals,
                quote_decimals,
                base_per_lot: U256::from(lot_digit) * U256::from(10u64).pow(U256::from(lot_exp)),
                quote_per_tick_lot: U256::from(tick_digit)
                    * U256::from(10u64).pow(U256::from(tick_exp)),
                ..eth_usdc()
            };
            Market::new(def).ok()
        },
    )
}

fn key_strategy() -> impl Strategy<Value = TraderKey> {
    any::<[u8; 32]>().prop_filter_map("valid scalar", |bytes| TraderKey::from_bytes(&bytes).ok())
}

fn order_strategy(maker: Address) -> impl Strategy<Value = Order> {
    (
        any::<[u8; 32]>(),
        any::<bool>(),
        any::<u64>(),
        any::<u64>(),
        any::<u64>(),
        "[1-9A-HJ-NP-Za-km-z]{1,60}",
        any::<u64>(),
        any::<u64>(),
        any::<u64>(),
    )
        .prop_map(
            move |(market, buy, price, quantity, min_fill, peer, nonce, created_at, expires_at)| {
                Order {
                    market: dex_primitives::MarketId(B256::from(market)),
                    side: if buy { Side::Buy } else { Side::Sell },
                    price: Ticks(price),
                    quantity: Lots(quantity),
                    min_fill: Lots(min_fill),
                    maker,
                    peer,
                    nonce,
                    created_at,
                    expires_at,
                }
            },
        )
}

fn signed_order_strategy() -> impl Strategy<Value = (TraderKey, SignedOrder)> {
    key_strategy().prop_flat_map(|key| {
        order_strategy(key.address()).prop_map(move |order| (key.clone(), order.sign(&key)))
    })
}

proptest! {
    #[test]
    fn price_and_quantity_round_trip_on_the_grid(market in market_strategy(), steps in 1u64..=u64::MAX) {
        // steps → decimal → steps, and the decimal's string form parses back too.
        if let Ok(price) = market.ticks_to_price(Ticks(steps)) {
            prop_assert_eq!(market.price_to_ticks(price).unwrap(), Ticks(steps));
            prop_assert_eq!(market.parse_price(&price.to_string()).unwrap(), Ticks(steps));
        }
        if let Ok(quantity) = market.lots_to_quantity(Lots(steps)) {
            prop_assert_eq!(market.quantity_to_lots(quantity).unwrap(), Lots(steps));
            prop_assert_eq!(market.parse_quantity(&quantity.to_string()).unwrap(), Lots(steps));
        }
    }

    #[test]
    fn small_values_always_convert(market in market_strategy(), steps in 1u64..=1_000_000_000) {
        // Values of realistic size (steps up to 10^9 display units) never hit the
        // 28-digit limit of a decimal.
        let realistic = Decimal::from(1_000_000_000u64);
        prop_assume!(market.tick_size() <= realistic && market.lot_size() <= realistic);
        prop_assert!(market.ticks_to_price(Ticks(steps)).is_ok());
        prop_assert!(market.lots_to_quantity(Lots(steps)).is_ok());
    }

    #[test]
    fn off_grid_values_are_rejected(market in market_strategy(), steps in 0u64..1_000_000, part in 1u32..10) {
        // steps + part/10 of a step is strictly between two grid points, when a Decimal
        // holds it exactly (a tenth of a 10^-28 tick is past its 28 digits and rounds).
        let between = |step: Decimal| {
            let on_grid = Decimal::from(steps).checked_mul(step)?;
            let off = on_grid.checked_add(step.checked_mul(Decimal::new(i64::from(part), 1))?)?;
            let exact = off.checked_sub(on_grid)?.checked_mul(Decimal::TEN)?
                == step.checked_mul(Decimal::from(part))?;
            exact.then_some(off)
        };
        if let Some(off) = between(market.tick_size()) {
            let is_off_grid = matches!(
                market.price_to_ticks(off),
                Err(dex_primitives::Error::OffGrid { .. })
            );
            prop_assert!(is_off_grid, "{} accepted", off);
        }
        if let Some(off) = between(market.lot_size()) {
            let is_off_grid = matches!(
                market.quantity_to_lots(off),
                Err(dex_primitives::Error::OffGrid { .. })
            );
            prop_assert!(is_off_grid, "{} accepted", off);
        }
    }

    #[test]
    fn signed_order_json_round_trips((_key, signed) in signed_order_strategy()) {
        let json = serde_json::to_string(&signed).unwrap();
        let back: SignedOrder = serde_json::from_str(&json).unwrap();
        prop_assert_eq!(back, signed);
    }

    #[test]
    fn sign_then_verify_recovers_the_maker((key, signed) in signed_order_strategy()) {
        let id = signed.verify_signature().unwrap();
        prop_assert_eq!(id, signed.order.id());
        prop_assert_eq!(recover_signer(&id.0, &signed.signature).unwrap(), key.address());
        // Low-s and v in {27, 28} always.
        prop_assert!(signed.signature.v() == 27 || signed.signature.v() == 28);
    }

    /// Signing an own order with `sign_verified` gives exactly what `sign` then `verify`
    /// gives: the same verified order, or the same refusal (rules, unknown market, a key
    /// that is not the maker's).
    #[test]
    fn sign_verified_is_sign_then_verify(
        key in key_strategy(),
        other in key_strategy(),
        by_maker in any::<bool>(),
        known_market in any::<bool>(),
        order in order_strategy(Address::ZERO),
        price in 0u64..2_000_000,
        quantity in 0u64..2_000,
        min_fill in 0u64..2_000,
        now_offset in 0u64..200_000_000,
        lifetime in 0u64..100_000_000,
    ) {
        let markets = dex_test_utils::markets();
        let rules = dex_primitives::ValidationRules::default();
        let now = dex_test_utils::T0;
        let mut order = Order {
            maker: key.address(),
            price: Ticks(price),
            quantity: Lots(quantity),
            min_fill: Lots(min_fill),
            created_at: now + now_offset - 100_000_000,
            expires_at: now + lifetime,
            ..order
        };
        if known_market {
            order.market = dex_test_utils::eth_usdc_id();
        }
        let signer = if by_maker { &key } else { &other };
        let expected = order.clone().sign(signer).verify(markets, &rules, now);
        prop_assert_eq!(order.sign_verified(signer, markets, &rules, now), expected);
    }

    /// Verification with the signer recovered ahead gives exactly what plain verification
    /// gives: for the order's own recovery, for a tampered signature's, and when handed the
    /// recovery of another order (ignored: recovered again).
    #[test]
    fn verify_with_a_signer_recovered_ahead_is_verify(
        (key, signed) in signed_order_strategy(),
        (_other_key, other) in signed_order_strategy(),
        tamper in any::<bool>(),
        index in 0usize..65,
        delta in 1u8..=255,
    ) {
        let markets = dex_test_utils::markets();
        let rules = dex_primitives::ValidationRules { max_lifetime_ms: u64::MAX, ..Default::default() };
        let market = markets.iter().next().unwrap();
        let mut order = signed.order.clone();
        order.market = market.id();
        order.price = Ticks(1 + order.price.0 % 1_000);
        order.quantity = Lots(1 + order.quantity.0 % 1_000);
        order.min_fill = Lots(1);
        order.created_at %= 1_000;
        order.expires_at = order.created_at + 1 + order.expires_at % 1_000_000;
        let now = order.created_at;
        let mut candidate = order.sign(&key);
        if tamper {
            candidate.signature.0[index] = candidate.signature.0[index].wrapping_add(delta);
        }
        let plain = candidate.clone().verify(markets, &rules, now);
        prop_assert_eq!(plain.is_ok(), !tamper, "{:?}", plain);
        let own = candidate.recover_ahead();
        prop_assert_eq!(candidate.clone().verify_with(markets, &rules, now, Some(&own)), plain.clone());
        let foreign = other.recover_ahead();
        prop_assert_eq!(candidate.clone().verify_with(markets, &rules, now, Some(&foreign)), plain.clone());
        prop_assert_eq!(candidate.recover().verify(markets, &rules, now), plain);
    }

    #[test]
    fn any_signature_byte_change_fails((_key, signed) in signed_order_strategy(), index in 0usize..65, delta in 1u8..=255) {
        let mut tampered = signed.clone();
        tampered.signature.0[index] = tampered.signature.0[index].wrapping_add(delta);
        prop_assert!(tampered.verify_signature().is_err());
    }

    #[test]
    fn any_json_byte_change_fails((_key, signed) in signed_order_strategy(), position in any::<prop::sample::Index>(), replacement in 0x20u8..0x7f) {
        let json = serde_json::to_string(&signed).unwrap();
        let mut bytes = json.into_bytes();
        let index = position.index(bytes.len());
        prop_assume!(bytes[index] != replacement);
        bytes[index] = replacement;
        // Either it no longer parses, or it parses to the same signed order (e.g. a hex
        // digit changed case in the address), or it no longer verifies.
        if let Ok(tampered) = serde_json::from_slice::<SignedOrder>(&bytes)
            && tampered != signed
        {
            prop_assert!(tampered.verify_signature().is_err(), "{}", String::from_utf8_lossy(&bytes));
        }
    }

    #[test]
    fn k256_and_libsecp256k1_agree_on_signatures(key in key_strategy(), digest in any::<[u8; 32]>()) {
        let digest = B256::from(digest);
        let signature = key.sign_digest(&digest);
        let ours = recover_signer(&digest, &signature).unwrap();
        prop_assert_eq!(ours, key.address());
        prop_assert_eq!(k256_recover(&digest, &signature), Some(key.address()));
    }

    #[test]
    fn k256_and_libsecp256k1_agree_on_arbitrary_bytes(bytes in any::<[u8; 64]>(), odd in any::<bool>(), digest in any::<[u8; 32]>()) {
        let digest = B256::from(digest);
        let mut raw = [0u8; 65];
        raw[..64].copy_from_slice(&bytes);
        raw[64] = if odd { 28 } else { 27 };
        let signature = Signature(raw);
        let ours = recover_signer(&digest, &signature).ok();
        let theirs = k256_recover(&digest, &signature);
        prop_assert_eq!(ours, theirs);
    }
}

/// Recovery with k256, with the same low-s rule, for cross-checking.
fn k256_recover(digest: &B256, signature: &Signature) -> Option<Address> {
    use k256::ecdsa::{RecoveryId, Signature as KSignature, VerifyingKey};
    let sig = KSignature::from_slice(&signature.0[..64]).ok()?;
    if sig.normalize_s().is_some() {
        return None;
    }
    let recovery_id = RecoveryId::from_byte(signature.v().checked_sub(27)?)?;
    let key = VerifyingKey::recover_from_prehash(digest.as_slice(), &sig, recovery_id).ok()?;
    let point = key.to_encoded_point(false);
    Some(Address::from_slice(
        &alloy_primitives::keccak256(&point.as_bytes()[1..])[12..],
    ))
}

#[test]
fn test_peer_is_valid_base58() {
    assert!(
        TEST_PEER
            .chars()
            .all(|c| c.is_ascii_alphanumeric() && !"0OIl".contains(c))
    );
}
