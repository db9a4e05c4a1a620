use dex_primitives::{Alive, B256, Lots, OrderId, Update, ValidationRules};
use dex_protocol::{
    EntryAhead, Error, MAX_RESPONSE_SIZE, ValidationContext, WireMessage,
    sync::{MAX_PAGE_LIMIT, PageEntry, SyncRequest, SyncResponse},
    validate_synced,
};
use dex_test_utils::{OrderBuilder, T0, eth_usdc_id, markets, trader};

use crate::seen::Seen;

fn page(nonces: std::ops::Range<u64>) -> (Vec<PageEntry>, Vec<OrderId>) {
    let mut entries: Vec<PageEntry> = nonces
        .map(|nonce| PageEntry {
            order: OrderBuilder::new().nonce(nonce).sign(),
            update: None,
        })
        .collect();
    entries.sort_by_key(|entry| entry.order.order.id());
    let ids = entries.iter().map(|entry| entry.order.order.id()).collect();
    (entries, ids)
}

#[test]
fn requests_round_trip_and_limit_is_checked() {
    let request = SyncRequest::GetOrders {
        market: eth_usdc_id(),
        cursor: None,
        limit: 10,
        maker: None,
    };
    let bytes = request.encode().unwrap();
    let json: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(json["type"], "getOrders");
    assert_eq!(SyncRequest::decode(&bytes).unwrap(), request);
    assert!(request.check().is_ok());
    let too_many = SyncRequest::GetOrders {
        market: eth_usdc_id(),
        cursor: None,
        limit: MAX_PAGE_LIMIT + 1,
        maker: None,
    };
    assert!(matches!(too_many.check(), Err(Error::LimitTooLarge { .. })));
}

#[test]
fn pages_must_follow_the_cursor_and_the_market() {
    let (entries, ids) = page(0..5);
    let request = SyncRequest::GetOrders {
        market: eth_usdc_id(),
        cursor: None,
        limit: 5,
        maker: None,
    };
    let response = SyncResponse::OrdersPage {
        alives: Vec::new(),
        market: eth_usdc_id(),
        orders: entries.clone(),
        next_cursor: ids.last().copied(),
    };
    let decoded = SyncResponse::decode(&response.encode().unwrap()).unwrap();
    assert_eq!(decoded.check_page(&request).unwrap(), ids);

    let mut shuffled = entries.clone();
    shuffled.swap(0, 1);
    let bad = SyncResponse::OrdersPage {
        alives: Vec::new(),
        market: eth_usdc_id(),
        orders: shuffled,
        next_cursor: None,
    };
    assert!(matches!(
        bad.check_page(&request),
        Err(Error::BadPage { .. })
    ));

    let after_cursor = SyncRequest::GetOrders {
        market: eth_usdc_id(),
        cursor: Some(ids[2]),
        limit: 5,
        maker: None,
    };
    assert!(matches!(
        response.check_page(&after_cursor),
        Err(Error::BadPage { .. })
    ));
    let small = SyncRequest::GetOrders {
        market: eth_usdc_id(),
        cursor: None,
        limit: 4,
        maker: None,
    };
    assert!(matches!(
        response.check_page(&small),
        Err(Error::BadPage { .. })
    ));
}

#[test]
fn synced_entries_are_verified_with_their_update() {
    let rules = ValidationRules::default();
    let seen = Seen::default();
    let ctx = ValidationContext {
        markets: markets(),
        rules: &rules,
        seen: &seen,
        topic: None,
        alive_max_age_ms: 90_000,
    };
    let signed = OrderBuilder::new().sign();
    let update = Update {
        order_id: signed.order.id(),
        remaining: Lots(3),
        timestamp: T0,
    }
    .sign(&trader(0));
    let id = signed.order.id();
    let (order, update) = validate_synced(
        PageEntry {
            order: signed.clone(),
            update: Some(update),
        },
        id,
        &EntryAhead::default(),
        T0,
        &ctx,
    )
    .unwrap();
    assert_eq!(order.unwrap().id(), signed.order.id());
    assert_eq!(update.unwrap().remaining(), Lots(3));

    // A forged update in a page fails the whole entry, with its signers recovered ahead
    // (as the verification pool does) or not.
    let forged = Update {
        order_id: signed.order.id(),
        remaining: Lots(0),
        timestamp: T0,
    }
    .sign(&trader(5));
    let entry = PageEntry {
        order: signed.clone(),
        update: Some(forged),
    };
    let ahead = dex_protocol::recover_page_ahead(std::slice::from_ref(&entry), &[true]);
    for ahead in [&EntryAhead::default(), &ahead[0]] {
        assert!(matches!(
            validate_synced(entry.clone(), id, ahead, T0, &ctx),
            Err(Error::Invalid { what: "update", .. })
        ));
    }

    // Known already: the order is not re-verified, a lower update still applies.
    let known = Seen::with_open(OrderBuilder::new().verified());
    let ctx = ValidationContext {
        seen: &known,
        ..ctx
    };
    let (order, update) = validate_synced(
        PageEntry {
            order: signed,
            update: Some(update.unwrap().signed().to_owned()),
        },
        id,
        &EntryAhead::default(),
        T0,
        &ctx,
    )
    .unwrap();
    assert!(order.is_none());
    assert_eq!(update.unwrap().remaining(), Lots(3));
}

#[test]
fn an_empty_page_may_not_name_a_next_cursor() {
    let (_, ids) = page(0..1);
    let request = SyncRequest::GetOrders {
        market: eth_usdc_id(),
        cursor: None,
        limit: 5,
        maker: None,
    };
    let endless = SyncResponse::OrdersPage {
        alives: Vec::new(),
        market: eth_usdc_id(),
        orders: Vec::new(),
        next_cursor: Some(ids[0]),
    };
    assert!(matches!(
        endless.check_page(&request),
        Err(Error::BadPage { .. })
    ));
    let last = SyncResponse::OrdersPage {
        alives: Vec::new(),
        market: eth_usdc_id(),
        orders: Vec::new(),
        next_cursor: None,
    };
    assert_eq!(last.check_page(&request).unwrap(), Vec::<OrderId>::new());
}

/// The response size limit fits the largest page an honest peer can send (the most entries,
/// each with the longest fields and an update) with room to spare, and not much more: the
/// codec reads up to the limit before the page is checked.
#[test]
fn the_largest_honest_page_fits_the_response_limit() {
    let order = OrderBuilder::new()
        .peer(&"z".repeat(128))
        .price(u64::MAX)
        .quantity(u64::MAX)
        .min_fill(u64::MAX)
        .nonce(u64::MAX)
        .created_at(u64::MAX)
        .expires_at(u64::MAX)
        .sign();
    let update = Update {
        order_id: order.order.id(),
        remaining: Lots(u64::MAX),
        timestamp: u64::MAX,
    }
    .sign(&trader(0));
    let entry = PageEntry {
        order,
        update: Some(update),
    };
    // Each entry by its own maker, each with a heartbeat of the longest fields.
    let alive = Alive {
        maker: trader(0).address(),
        peer: "z".repeat(128),
        market: eth_usdc_id(),
        open_orders: u32::MAX,
        orders_root: B256::repeat_byte(0xff),
        timestamp: u64::MAX,
    }
    .sign(&trader(0));
    let page = SyncResponse::OrdersPage {
        alives: vec![alive; MAX_PAGE_LIMIT as usize],
        market: eth_usdc_id(),
        orders: vec![entry; MAX_PAGE_LIMIT as usize],
        next_cursor: Some(OrderId::default()),
    };
    let size = page.encode().expect("within the limit").len();
    assert!(size <= MAX_RESPONSE_SIZE * 3 / 4, "{size} bytes");
    assert!(
        size > MAX_RESPONSE_SIZE / 2,
        "{size} bytes: the limit is loose"
    );
}

/// A page's heartbeats must be of its market and of makers with an order in it, one each:
/// anything else is a bad page (a peer cannot pad a page with heartbeats).
#[test]
fn a_pages_heartbeats_are_one_per_maker_of_the_page() {
    let makers = [trader(1), trader(2)];
    let mut entries: Vec<PageEntry> = makers
        .iter()
        .map(|maker| PageEntry {
            order: OrderBuilder::new().maker(maker).sign(),
            update: None,
        })
        .collect();
    entries.sort_by_key(|entry| entry.order.order.id());
    let request = SyncRequest::GetOrders {
        market: eth_usdc_id(),
        cursor: None,
        limit: 10,
        maker: None,
    };
    let alive = |maker: &dex_primitives::TraderKey, market| {
        Alive {
            maker: maker.address(),
            peer: "12D3KooW".into(),
            market,
            open_orders: 1,
            orders_root: B256::ZERO,
            timestamp: T0,
        }
        .sign(maker)
    };
    let with = |alives| SyncResponse::OrdersPage {
        market: eth_usdc_id(),
        orders: entries.clone(),
        next_cursor: None,
        alives,
    };
    let both = with(vec![
        alive(&makers[0], eth_usdc_id()),
        alive(&makers[1], eth_usdc_id()),
    ]);
    assert_eq!(both.check_page(&request).unwrap().len(), 2);
    let decoded = SyncResponse::decode(&both.encode().unwrap()).unwrap();
    assert_eq!(decoded, both);

    let other_market = markets()
        .iter()
        .map(|market| market.id())
        .find(|id| *id != eth_usdc_id())
        .expect("the test markets are more than one");
    for (what, alives) in [
        (
            "twice the same maker",
            vec![
                alive(&makers[0], eth_usdc_id()),
                alive(&makers[0], eth_usdc_id()),
            ],
        ),
        (
            "a maker without an order here",
            vec![alive(&trader(3), eth_usdc_id())],
        ),
        ("another market", vec![alive(&makers[0], other_market)]),
    ] {
        assert!(
            matches!(
                with(alives).check_page(&request),
                Err(Error::BadPage { .. })
            ),
            "{what}"
        );
    }
    // Pages without the field (from nodes before it) still decode.
    let bare = serde_json::json!({
        "type": "ordersPage",
        "market": eth_usdc_id(),
        "orders": [],
        "nextCursor": null,
    });
    let decoded = SyncResponse::decode(bare.to_string().as_bytes()).unwrap();
    assert!(matches!(decoded, SyncResponse::OrdersPage { alives, .. } if alives.is_empty()));
}
