//! Own orders.

use dex_primitives::{B256, Lots, MarketId, Update};
use dex_store::{ClientOrder, Error, OrderStatus, OwnOrder, Store, StoreOp};
use dex_test_utils::{OrderBuilder, T0, eth_eth2, eth_usdc_id, trader};

fn own(builder: OrderBuilder) -> OwnOrder {
    let signed = builder.sign();
    OwnOrder {
        id: signed.order.id(),
        remaining: signed.order.quantity,
        signed,
        status: OrderStatus::Open,
        latest_update: None,
        created_at: T0,
        updated_at: T0,
        client: None,
        ioc: false,
    }
}

/// A client's id names one order for good: found again after a reopen, never given to a
/// second order.
#[test]
fn a_client_order_id_names_one_order() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("node.sqlite");
    let client = ClientOrder {
        id: "bot-7f3a".into(),
        request: r#"{"side":"buy"}"#.into(),
    };
    let named = OwnOrder {
        client: Some(client.clone()),
        ..own(OrderBuilder::new().quantity(10))
    };
    {
        let mut store = Store::open(&path).unwrap();
        store.insert_own_order(&named).unwrap();
        // Orders without one are many.
        store
            .insert_own_order(&own(OrderBuilder::new().nonce(2)))
            .unwrap();
        store
            .insert_own_order(&own(OrderBuilder::new().nonce(3)))
            .unwrap();
        let second = OwnOrder {
            client: Some(client),
            ..own(OrderBuilder::new().nonce(4))
        };
        assert!(store.insert_own_order(&second).is_err());
        assert_eq!(store.own_order(&second.id).unwrap(), None);
    }
    let store = Store::open(&path).unwrap();
    assert_eq!(
        store.own_order_by_client_id("bot-7f3a").unwrap(),
        Some(named)
    );
    assert_eq!(store.own_order_by_client_id("bot-7f3b").unwrap(), None);
}

#[test]
fn orders_round_trip_and_survive_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("node.sqlite");
    let order = own(OrderBuilder::new().quantity(10));
    // An immediate-or-cancel order keeps that after a reopen (a restart must not rest it).
    let ioc = OwnOrder {
        ioc: true,
        ..own(OrderBuilder::new().nonce(2))
    };
    {
        let mut store = Store::open(&path).unwrap();
        store.insert_own_order(&order).unwrap();
        store.insert_own_order(&ioc).unwrap();
        assert_eq!(store.own_order(&order.id).unwrap(), Some(order.clone()));
    }
    let store = Store::open(&path).unwrap();
    assert_eq!(store.own_order(&order.id).unwrap(), Some(order));
    assert_eq!(store.own_order(&ioc.id).unwrap(), Some(ioc.clone()));
    assert!(
        store
            .own_orders(None, Some(OrderStatus::Open))
            .unwrap()
            .iter()
            .any(|stored| stored.id == ioc.id && stored.ioc)
    );
}

#[test]
fn a_duplicate_order_is_refused() {
    let mut store = Store::open_in_memory().unwrap();
    let order = own(OrderBuilder::new());
    store.insert_own_order(&order).unwrap();
    assert!(matches!(
        store.insert_own_order(&order).unwrap_err(),
        Error::DuplicateOrder { order_id } if order_id == order.id
    ));
}

#[test]
fn orders_inserted_together_survive_a_reopen_or_are_all_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("node.sqlite");
    let orders: Vec<OwnOrder> = (0..5)
        .map(|nonce| own(OrderBuilder::new().nonce(nonce)))
        .collect();
    {
        let mut store = Store::open(&path).unwrap();
        let insert = |order: &OwnOrder| StoreOp::InsertOrder(Box::new(order.clone()));
        store
            .apply(&orders.iter().map(insert).collect::<Vec<_>>(), T0)
            .unwrap();
        // A batch holding a stored order (and new ones) is refused as a whole.
        let new = own(OrderBuilder::new().nonce(99));
        assert!(matches!(
            store.apply(&[insert(&new), insert(&orders[2])], T0).unwrap_err(),
            Error::DuplicateOrder { order_id } if order_id == orders[2].id
        ));
        assert_eq!(store.own_order(&new.id).unwrap(), None);
    }
    let store = Store::open(&path).unwrap();
    assert_eq!(store.own_orders(None, None).unwrap().len(), orders.len());
    for order in &orders {
        assert_eq!(store.own_order(&order.id).unwrap().as_ref(), Some(order));
    }
}

#[test]
fn remaining_only_goes_down_and_keeps_the_signed_update() {
    let mut store = Store::open_in_memory().unwrap();
    let order = own(OrderBuilder::new().quantity(10));
    store.insert_own_order(&order).unwrap();
    let update = Update {
        order_id: order.id,
        remaining: Lots(4),
        timestamp: T0 + 5,
    }
    .sign(&trader(0));
    store
        .update_own_order(&order.id, Lots(4), OrderStatus::Open, Some(&update), T0 + 5)
        .unwrap();
    let stored = store.own_order(&order.id).unwrap().unwrap();
    assert_eq!(stored.remaining, Lots(4));
    assert_eq!(stored.latest_update, Some(update));
    assert_eq!(stored.updated_at, T0 + 5);

    let err = store
        .update_own_order(&order.id, Lots(5), OrderStatus::Open, None, T0 + 6)
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::RemainingIncrease {
                current: 4,
                requested: 5,
                ..
            }
        ),
        "{err}"
    );

    // A status change without a new update keeps the previous one.
    store
        .update_own_order(&order.id, Lots(0), OrderStatus::Filled, None, T0 + 7)
        .unwrap();
    let stored = store.own_order(&order.id).unwrap().unwrap();
    assert_eq!(
        (stored.remaining, stored.status),
        (Lots(0), OrderStatus::Filled)
    );
    assert_eq!(stored.latest_update, Some(update));

    let unknown = own(OrderBuilder::new().nonce(99)).id;
    assert!(matches!(
        store
            .update_own_order(&unknown, Lots(0), OrderStatus::Cancelled, None, T0)
            .unwrap_err(),
        Error::UnknownOrder { .. }
    ));
}

#[test]
fn orders_filter_by_market_and_status() {
    let mut store = Store::open_in_memory().unwrap();
    let a = own(OrderBuilder::new().nonce(1).created_at(T0));
    let b = own(OrderBuilder::new().nonce(2).created_at(T0 + 1));
    let c = own(OrderBuilder::new()
        .nonce(3)
        .market(eth_eth2().params().id()));
    for order in [&a, &b, &c] {
        store.insert_own_order(order).unwrap();
    }
    store
        .update_own_order(&b.id, Lots(0), OrderStatus::Cancelled, None, T0 + 2)
        .unwrap();
    let market = a.signed.order.market;
    let ids = |orders: Vec<OwnOrder>| orders.into_iter().map(|o| o.id).collect::<Vec<_>>();
    assert_eq!(
        ids(store.own_orders(Some(&market), None).unwrap()),
        vec![a.id, b.id]
    );
    assert_eq!(
        ids(store
            .own_orders(Some(&market), Some(OrderStatus::Open))
            .unwrap()),
        vec![a.id]
    );
    assert_eq!(
        ids(store.own_orders(None, Some(OrderStatus::Open)).unwrap()).len(),
        2
    );
    assert_eq!(ids(store.own_orders(None, None).unwrap()).len(), 3);
}

#[test]
fn extreme_quantities_round_trip() {
    let mut store = Store::open_in_memory().unwrap();
    let mut order = own(OrderBuilder::new().quantity(u64::MAX).price(u64::MAX));
    order.created_at = u64::MAX;
    store.insert_own_order(&order).unwrap();
    assert_eq!(store.own_order(&order.id).unwrap(), Some(order));
}

/// An order answered "placed" must survive a power cut, not only a killed process: every
/// commit is fsynced (`synchronous=FULL`), own orders included, on a file database and
/// after a reopen.
#[test]
fn every_commit_is_durable_own_orders_included() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("node.sqlite");
    let mut store = Store::open(&path).unwrap();
    assert!(store.is_durable().unwrap());
    store
        .insert_own_order(&own(OrderBuilder::new().nonce(1)))
        .unwrap();
    store
        .apply(
            &[StoreOp::InsertOrder(Box::new(own(
                OrderBuilder::new().nonce(2)
            )))],
            T0,
        )
        .unwrap();
    assert!(store.is_durable().unwrap(), "still durable after writes");
    drop(store);
    assert!(Store::open(&path).unwrap().is_durable().unwrap());
}

/// One step's writes are one transaction: a failing write leaves none of the step's
/// writes before it on disk.
#[test]
fn a_step_is_written_whole_or_not_at_all() {
    let mut store = Store::open_in_memory().unwrap();
    let stored = own(OrderBuilder::new().nonce(1));
    store.insert_own_order(&stored).unwrap();
    let new = own(OrderBuilder::new().nonce(2));
    let step = [
        StoreOp::InsertOrder(Box::new(new.clone())),
        StoreOp::UpdateOrder {
            id: stored.id,
            remaining: Lots(1),
            status: OrderStatus::Open,
            update: None,
        },
        // Already stored: the whole step is refused.
        StoreOp::InsertOrder(Box::new(stored.clone())),
    ];
    assert!(matches!(
        store.apply(&step, T0 + 5).unwrap_err(),
        Error::DuplicateOrder { order_id } if order_id == stored.id
    ));
    assert_eq!(store.own_order(&new.id).unwrap(), None);
    assert_eq!(store.own_order(&stored.id).unwrap(), Some(stored.clone()));
    // Without the bad write, both land.
    store.apply(&step[..2], T0 + 5).unwrap();
    assert_eq!(
        store
            .own_order(&new.id)
            .unwrap()
            .map(|order| order.remaining),
        Some(new.remaining)
    );
    assert_eq!(
        store
            .own_order(&stored.id)
            .unwrap()
            .map(|order| order.remaining),
        Some(Lots(1))
    );
}

/// Own orders listed a page at a time in placement order, by market and status: newest
/// first without a cursor; with one, those placed since, oldest first.
#[test]
fn own_orders_are_paged_in_placement_order() {
    let mut store = Store::open_in_memory().unwrap();
    let other = MarketId(B256::repeat_byte(0x77));
    // Six orders (seqs 1..=6): the even ones of the other market; the third cancelled.
    let mut ids = Vec::new();
    for nonce in 1..=6u64 {
        let builder = OrderBuilder::new().nonce(nonce);
        let builder = if nonce % 2 == 0 {
            builder.market(other)
        } else {
            builder
        };
        let order = own(builder);
        store.insert_own_order(&order).unwrap();
        ids.push(order.id);
    }
    store
        .update_own_order(&ids[2], Lots(0), OrderStatus::Cancelled, None, T0 + 1)
        .unwrap();
    let listed =
        |page: &dex_store::OwnOrdersPage| -> Vec<_> { page.items.iter().map(|o| o.id).collect() };

    let newest = store.own_orders_page(None, None, None, 4).unwrap();
    assert_eq!(listed(&newest), vec![ids[5], ids[4], ids[3], ids[2]]);
    assert_eq!(newest.cursor, 6);
    let open_here = store
        .own_orders_page(Some(&eth_usdc_id()), Some(OrderStatus::Open), None, 10)
        .unwrap();
    assert_eq!(listed(&open_here), vec![ids[4], ids[0]]);
    assert_eq!(open_here.cursor, 5);
    let cancelled = store
        .own_orders_page(None, Some(OrderStatus::Cancelled), None, 10)
        .unwrap();
    assert_eq!(listed(&cancelled), vec![ids[2]]);
    // The cancelled one is listed at its placement, with its new state.
    assert_eq!(cancelled.items[0].remaining, Lots(0));

    // Following from the start, two at a time.
    let first = store.own_orders_page(None, None, Some(0), 2).unwrap();
    assert_eq!((listed(&first), first.cursor), (vec![ids[0], ids[1]], 2));
    let other_market = store
        .own_orders_page(Some(&other), None, Some(first.cursor), 2)
        .unwrap();
    assert_eq!(
        (listed(&other_market), other_market.cursor),
        (vec![ids[3], ids[5]], 6)
    );
    let done = store
        .own_orders_page(Some(&other), None, Some(other_market.cursor), 2)
        .unwrap();
    assert_eq!((listed(&done), done.cursor), (vec![], 6));
}
