//! Every bad input has its own error (DESIGN §3 validation).

use dex_primitives::{
    B256, Error, Lots, MarketId, Order, Signature, SignedOrder, Ticks, Update, ValidationRules,
};
use dex_test_utils::{HOUR_MS, OrderBuilder, T0, eth_eth2, markets, trader};

fn verify(signed: SignedOrder) -> Result<dex_primitives::VerifiedOrder, Error> {
    signed.verify(markets(), &ValidationRules::default(), T0)
}

/// A signature with `s` replaced by `n - s` and `v` flipped: the same point, malleated.
fn malleate(signature: &Signature) -> Signature {
    let n = dex_primitives::U256::from_str_radix(
        "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141",
        16,
    )
    .unwrap();
    let s = dex_primitives::U256::from_be_slice(&signature.0[32..64]);
    let mut out = *signature;
    out.0[32..64].copy_from_slice(&(n - s).to_be_bytes::<32>());
    out.0[64] = if signature.0[64] == 27 { 28 } else { 27 };
    out
}

#[test]
fn a_good_order_verifies() {
    let verified = verify(OrderBuilder::new().sign()).unwrap();
    assert_eq!(verified.maker(), trader(0).address());
    assert_eq!(verified.id(), OrderBuilder::new().order().id());
}

#[test]
fn malformed_hex() {
    let json = serde_json::json!({"order": OrderBuilder::new().order(), "signature": "0xzz"});
    let err = serde_json::from_value::<SignedOrder>(json).unwrap_err();
    assert!(
        err.to_string()
            .contains("signature is not valid 0x-prefixed hex"),
        "{err}"
    );
    assert!(matches!(
        "12".parse::<Signature>(),
        Err(Error::MalformedHex { .. })
    ));
    assert!(matches!(
        "0x123".parse::<MarketId>(),
        Err(Error::MalformedHex { .. })
    ));
}

#[test]
fn wrong_lengths() {
    let short = format!("0x{}", "11".repeat(64));
    assert_eq!(
        short.parse::<Signature>(),
        Err(Error::WrongLength {
            what: "signature",
            expected: 65,
            actual: 64
        })
    );
    assert_eq!(
        "0x1234".parse::<MarketId>(),
        Err(Error::WrongLength {
            what: "market id",
            expected: 32,
            actual: 2
        })
    );
    let json = serde_json::json!({"order": OrderBuilder::new().order(), "signature": short});
    let err = serde_json::from_value::<SignedOrder>(json).unwrap_err();
    assert!(
        err.to_string().contains("must be 65 bytes, got 64"),
        "{err}"
    );
}

#[test]
fn high_s_signature() {
    let mut signed = OrderBuilder::new().sign();
    signed.signature = malleate(&signed.signature);
    assert_eq!(verify(signed.clone()).unwrap_err(), Error::HighS);
    // k256 would recover the same maker from it: the rule, not the maths, rejects it.
    assert_eq!(signed.verify_signature().unwrap_err(), Error::HighS);
}

#[test]
fn v_not_27_or_28() {
    for v in [0u8, 1, 26, 29, 255] {
        let mut signed = OrderBuilder::new().sign();
        signed.signature.0[64] = v;
        assert_eq!(verify(signed).unwrap_err(), Error::InvalidRecoveryId { v });
    }
}

#[test]
fn zero_r_is_an_invalid_signature() {
    let mut signed = OrderBuilder::new().sign();
    signed.signature.0[..32].fill(0);
    assert_eq!(verify(signed).unwrap_err(), Error::InvalidSignature);
}

#[test]
fn signer_is_not_the_maker() {
    let builder = OrderBuilder::new();
    let mut order = builder.order();
    order.maker = trader(1).address();
    let signed = order.sign(&trader(0));
    assert_eq!(
        verify(signed).unwrap_err(),
        Error::SignerMismatch {
            signer: trader(0).address(),
            expected: trader(1).address()
        }
    );
}

#[test]
fn off_tick_price_and_off_lot_quantity() {
    let markets = markets();
    let market = markets.find("ETH/USDC").unwrap();
    assert!(matches!(
        market.parse_price("2500.001"),
        Err(Error::OffGrid { what: "price", .. })
    ));
    assert!(matches!(
        market.parse_quantity("0.0001"),
        Err(Error::OffGrid {
            what: "quantity",
            ..
        })
    ));
}

#[test]
fn zero_quantity_price_and_min_fill() {
    let zero_quantity = OrderBuilder::new().quantity(0).min_fill(0);
    assert_eq!(
        verify(zero_quantity.sign()).unwrap_err(),
        Error::ZeroQuantity
    );
    assert_eq!(
        verify(OrderBuilder::new().price(0).sign()).unwrap_err(),
        Error::ZeroPrice
    );
    assert_eq!(
        verify(OrderBuilder::new().min_fill(0).sign()).unwrap_err(),
        Error::ZeroMinFill
    );
}

#[test]
fn min_fill_above_quantity() {
    let signed = OrderBuilder::new().quantity(10).min_fill(11).sign();
    assert_eq!(
        verify(signed).unwrap_err(),
        Error::MinFillAboveQuantity {
            min_fill: 11,
            quantity: 10
        }
    );
}

#[test]
fn created_too_far_in_the_future() {
    let rules = ValidationRules::default();
    // Exactly at the skew bound is accepted; one millisecond more is not.
    let at_bound = OrderBuilder::new()
        .created_at(T0 + 30_000)
        .expires_at(T0 + HOUR_MS);
    assert!(verify(at_bound.sign()).is_ok());
    let beyond = OrderBuilder::new()
        .created_at(T0 + 30_001)
        .expires_at(T0 + HOUR_MS);
    assert_eq!(
        verify(beyond.sign()).unwrap_err(),
        Error::CreatedInFuture {
            created_at: T0 + 30_001,
            now: T0,
            max_skew_ms: rules.max_clock_skew_ms
        }
    );
}

#[test]
fn expired() {
    let signed = OrderBuilder::new()
        .created_at(T0 - HOUR_MS)
        .expires_at(T0)
        .sign();
    assert_eq!(
        verify(signed).unwrap_err(),
        Error::Expired {
            expires_at: T0,
            now: T0
        }
    );
    let signed = OrderBuilder::new().created_at(T0).expires_at(T0).sign();
    assert_eq!(
        verify(signed).unwrap_err(),
        Error::ExpiresBeforeCreated {
            created_at: T0,
            expires_at: T0
        }
    );
}

#[test]
fn lifetime_too_long() {
    let max = ValidationRules::default().max_lifetime_ms;
    assert!(verify(OrderBuilder::new().expires_at(T0 + max).sign()).is_ok());
    let signed = OrderBuilder::new().expires_at(T0 + max + 1).sign();
    assert_eq!(
        verify(signed).unwrap_err(),
        Error::LifetimeTooLong {
            lifetime_ms: max + 1,
            max_ms: max
        }
    );
}

#[test]
fn unknown_market() {
    let unknown = MarketId(B256::repeat_byte(0x42));
    let signed = OrderBuilder::new().market(unknown).sign();
    assert_eq!(
        verify(signed).unwrap_err(),
        Error::UnknownMarket {
            market: unknown.to_string()
        }
    );
}

#[test]
fn arithmetic_overflow() {
    // A market whose quotePerTickLot is ≈2^183: a u64::MAX × u64::MAX order overflows U256.
    let mut def = eth_eth2();
    def.base_symbol = "BIG".into();
    def.base_per_lot = dex_primitives::U256::from(1u8);
    def.base_decimals = 0;
    def.quote_decimals = 28;
    def.quote_per_tick_lot = (dex_primitives::U256::from(1u8) << 90usize)
        * dex_primitives::U256::from(10u8).pow(dex_primitives::U256::from(28u8));
    let markets = dex_primitives::Markets::new([def.clone()]).unwrap();
    let signed = OrderBuilder::new()
        .market(def.params().id())
        .price(u64::MAX)
        .quantity(u64::MAX)
        .sign();
    assert_eq!(
        signed
            .verify(&markets, &ValidationRules::default(), T0)
            .unwrap_err(),
        Error::AmountOverflow {
            price: u64::MAX,
            quantity: u64::MAX
        }
    );
}

#[test]
fn invalid_peer() {
    for peer in ["", "has space", "0OIl", &"a".repeat(129)] {
        let signed = OrderBuilder::new().peer(peer).sign();
        assert!(
            matches!(verify(signed).unwrap_err(), Error::InvalidPeer { .. }),
            "{peer:?}"
        );
    }
}

#[test]
fn unknown_json_fields_and_bad_side_are_refused() {
    let mut json = serde_json::to_value(OrderBuilder::new().sign()).unwrap();
    json["order"]["side"] = 2.into();
    let err = serde_json::from_value::<SignedOrder>(json.clone()).unwrap_err();
    assert!(err.to_string().contains("side 2 is invalid"), "{err}");
    json["order"]["side"] = 1.into();
    json["order"]["extra"] = 1.into();
    let err = serde_json::from_value::<SignedOrder>(json).unwrap_err();
    assert!(err.to_string().contains("unknown field `extra`"), "{err}");
}

#[test]
fn updates_verify_against_their_order() {
    let rules = ValidationRules::default();
    let order = OrderBuilder::new().quantity(10).verified();
    let update = Update {
        order_id: order.id(),
        remaining: Lots(4),
        timestamp: T0 + 1,
    };
    let verified = update
        .sign(&trader(0))
        .verify(&order, &rules, T0 + 1)
        .unwrap();
    assert_eq!(verified.remaining(), Lots(4));

    assert_eq!(
        update
            .sign(&trader(1))
            .verify(&order, &rules, T0 + 1)
            .unwrap_err(),
        Error::SignerMismatch {
            signer: trader(1).address(),
            expected: trader(0).address()
        }
    );
    let above = Update {
        remaining: Lots(11),
        ..update
    };
    assert_eq!(
        above
            .sign(&trader(0))
            .verify(&order, &rules, T0)
            .unwrap_err(),
        Error::UpdateAboveQuantity {
            remaining: 11,
            quantity: 10
        }
    );
    let other = OrderBuilder::new().nonce(1).verified();
    assert!(matches!(
        update
            .sign(&trader(0))
            .verify(&other, &rules, T0)
            .unwrap_err(),
        Error::UpdateOrderMismatch { .. }
    ));
    let future = Update {
        timestamp: T0 + 60_000,
        ..update
    };
    assert!(matches!(
        future
            .sign(&trader(0))
            .verify(&order, &rules, T0)
            .unwrap_err(),
        Error::CreatedInFuture { .. }
    ));
}

#[test]
fn ids_depend_on_every_field() {
    let base = OrderBuilder::new().order();
    let variants: Vec<Order> = vec![
        Order {
            side: base.side.opposite(),
            ..base.clone()
        },
        Order {
            price: Ticks(base.price.0 + 1),
            ..base.clone()
        },
        Order {
            quantity: Lots(base.quantity.0 + 1),
            ..base.clone()
        },
        Order {
            min_fill: Lots(base.min_fill.0 + 1),
            ..base.clone()
        },
        Order {
            maker: trader(5).address(),
            ..base.clone()
        },
        Order {
            peer: format!("{}a", base.peer),
            ..base.clone()
        },
        Order {
            nonce: base.nonce + 1,
            ..base.clone()
        },
        Order {
            created_at: base.created_at + 1,
            ..base.clone()
        },
        Order {
            expires_at: base.expires_at + 1,
            ..base.clone()
        },
        Order {
            market: MarketId(B256::repeat_byte(1)),
            ..base.clone()
        },
    ];
    let mut ids: Vec<_> = variants.iter().map(Order::id).collect();
    ids.push(base.id());
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 11);
}
