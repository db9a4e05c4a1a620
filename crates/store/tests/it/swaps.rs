//! Swaps, their event log, trades and chain cursors.

use dex_primitives::{B256, Lots, MarketId, OrderId, Side, Ticks};
use dex_store::{Error, LogEntry, Store, SwapRecord, TradeRecord, TxRef};
use dex_swap::{Event, Leg, Outcome, Phase, Role, Swap};
use dex_test_utils::eth_usdc_id;

use crate::fixtures::{record, step};

#[test]
fn a_swap_and_its_log_survive_a_reopen_with_the_latest_state() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("node.sqlite");
    let mut swap = crate::swap(Role::Taker, 1);
    let swap_id = swap.params().swap_id;
    {
        let mut store = Store::open(&path).unwrap();
        store.create_swap(&record(&swap), &swap, 10).unwrap();
        let event = Event::ChainTime {
            leg: Leg::Taker,
            time: 1_800_000_000,
        };
        let actions = swap.handle(event.clone(), 20);
        // (Not a chain log in truth; the log keeps whatever transaction it is given.)
        let tx = TxRef {
            chain_id: 31338,
            tx_hash: B256::repeat_byte(0x7e),
            block: 12,
        };
        assert!(matches!(swap.phase(), Phase::TakerLocking { .. }));
        store
            .append_swap_event(
                &swap_id,
                &LogEntry::Event {
                    event: Box::new(event),
                    tx: Some(tx),
                },
                &actions,
                &swap,
                20,
            )
            .unwrap();
    }
    let store = Store::open(&path).unwrap();
    let (stored_record, stored_swap) = store.swap(&swap_id).unwrap().unwrap();
    assert_eq!(
        stored_record,
        SwapRecord {
            created_at: 10,
            ..record(&swap)
        }
    );
    assert_eq!(
        stored_swap, swap,
        "the latest state, secret included, is what resumes"
    );
    let history = store.swap_history(&swap_id).unwrap();
    assert_eq!(history.len(), 2);
    assert_eq!(history[0].entry, LogEntry::Created);
    assert_eq!(history[0].phase, "takerStart");
    assert_eq!(history[1].phase, "takerLocking");
    assert!(
        matches!(
            &history[1].entry,
            LogEntry::Event { tx: Some(tx), .. }
                if tx.tx_hash == B256::repeat_byte(0x7e) && tx.block == 12 && tx.chain_id == 31338
        ),
        "the transaction of the event is kept: {:?}",
        history[1].entry
    );
    assert!(matches!(
        history[1].actions[0],
        dex_swap::Action::Lock { .. }
    ));
    assert!(history[0].seq < history[1].seq);
}

#[test]
fn unfinished_swaps_are_the_ones_to_resume() {
    let mut store = Store::open_in_memory().unwrap();
    let running = crate::swap(Role::Taker, 1);
    let mut finished = crate::swap(Role::Maker, 2);
    store.create_swap(&record(&running), &running, 1).unwrap();
    store.create_swap(&record(&finished), &finished, 2).unwrap();
    let actions = finished.handle(Event::PeerAborted, 3);
    assert_eq!(finished.outcome(), Some(&Outcome::NotLocked));
    store
        .append_swap_event(
            &finished.params().swap_id,
            &LogEntry::Event {
                event: Box::new(Event::PeerAborted),
                tx: None,
            },
            &actions,
            &finished,
            3,
        )
        .unwrap();
    let unfinished: Vec<_> = store
        .unfinished_swaps()
        .unwrap()
        .into_iter()
        .map(|(r, _)| r.swap_id)
        .collect();
    assert_eq!(unfinished, vec![running.params().swap_id]);
    assert_eq!(store.swaps().unwrap().len(), 2);
    assert_eq!(
        store
            .swaps_of_order(&OrderId(B256::repeat_byte(0xa1)))
            .unwrap()
            .len(),
        2
    );
}

#[test]
fn a_duplicate_swap_is_refused() {
    let mut store = Store::open_in_memory().unwrap();
    let swap = crate::swap(Role::Maker, 1);
    store.create_swap(&record(&swap), &swap, 1).unwrap();
    assert!(matches!(
        store.create_swap(&record(&swap), &swap, 2).unwrap_err(),
        Error::DuplicateSwap { .. }
    ));
    assert_eq!(store.swap_history(&swap.params().swap_id).unwrap().len(), 1);
}

#[test]
fn trades_newest_first() {
    let mut store = Store::open_in_memory().unwrap();
    for (at, price) in [(1, 100), (3, 300), (2, 200)] {
        store
            .insert_trade(&TradeRecord {
                market: eth_usdc_id(),
                price: Ticks(price),
                quantity: Lots(1),
                taker_side: Side::Sell,
                swap_id: None,
                at,
            })
            .unwrap();
    }
    let prices: Vec<u64> = store
        .recent_trades(&eth_usdc_id(), 2)
        .unwrap()
        .into_iter()
        .map(|t| t.price.0)
        .collect();
    assert_eq!(prices, vec![300, 200]);
}

/// A fill is a trade whose swap completed, with the own order it filled and that order's
/// client order id; trades seen without a swap of ours are not fills.
#[test]
fn fills_are_the_trades_of_own_swaps_with_their_orders() {
    use dex_store::{ClientOrder, OrderStatus, OwnOrder};
    let mut store = Store::open_in_memory().unwrap();
    let signed = dex_test_utils::OrderBuilder::new().quantity(10).sign();
    let named = OwnOrder {
        id: OrderId(B256::repeat_byte(0xa1)),
        remaining: Lots(10),
        signed,
        status: OrderStatus::Open,
        latest_update: None,
        created_at: 1,
        updated_at: 1,
        client: Some(ClientOrder {
            id: "mm-1".into(),
            request: String::new(),
        }),
        ioc: false,
    };
    store.insert_own_order(&named).unwrap();
    let (first, second) = (crate::swap(Role::Taker, 1), crate::swap(Role::Taker, 2));
    for (swap, at) in [(&first, 5), (&second, 7)] {
        store.create_swap(&record(swap), swap, at).unwrap();
        store
            .insert_trade(&TradeRecord {
                market: eth_usdc_id(),
                price: Ticks(250_050),
                quantity: Lots(250),
                taker_side: Side::Buy,
                swap_id: Some(swap.params().swap_id),
                at,
            })
            .unwrap();
    }
    store
        .insert_trade(&TradeRecord {
            market: eth_usdc_id(),
            price: Ticks(1),
            quantity: Lots(1),
            taker_side: Side::Sell,
            swap_id: None,
            at: 9,
        })
        .unwrap();
    let fills = store.fills(Some(&eth_usdc_id()), 10).unwrap();
    let swaps: Vec<_> = fills.iter().map(|fill| fill.trade.swap_id).collect();
    assert_eq!(
        swaps,
        [Some(second.params().swap_id), Some(first.params().swap_id)]
    );
    for fill in &fills {
        assert_eq!(fill.order_id, named.id);
        assert_eq!(fill.side, Side::Buy);
        assert_eq!(fill.client_order_id.as_deref(), Some("mm-1"));
    }
    assert_eq!(store.fills(None, 1).unwrap().len(), 1);
    assert!(
        store
            .fills(Some(&MarketId(B256::repeat_byte(0xee))), 10)
            .unwrap()
            .is_empty()
    );
}

#[test]
fn chain_cursors_resume_where_they_stopped() {
    let mut store = Store::open_in_memory().unwrap();
    assert_eq!(store.chain_cursor(31337).unwrap(), None);
    store.set_chain_cursor(31337, 42, r#"{"a":1}"#, 1).unwrap();
    store.set_chain_cursor(31337, 43, r#"{"a":2}"#, 2).unwrap();
    store.set_chain_cursor(31338, 7, "{}", 2).unwrap();
    assert_eq!(
        store.chain_cursor(31337).unwrap(),
        Some((43, Some(r#"{"a":2}"#.to_owned())))
    );
    assert_eq!(
        store.chain_cursor(31338).unwrap(),
        Some((7, Some("{}".to_owned())))
    );
}

#[test]
fn a_swap_commits_its_quantity_once() {
    use dex_store::{OrderStatus, OwnOrder};
    let mut store = Store::open_in_memory().unwrap();
    let signed = dex_test_utils::OrderBuilder::new().quantity(10).sign();
    let order = OwnOrder {
        id: signed.order.id(),
        remaining: Lots(10),
        signed,
        status: OrderStatus::Open,
        latest_update: None,
        created_at: 1,
        updated_at: 1,
        client: None,
        ioc: false,
    };
    store.insert_own_order(&order).unwrap();
    let swap_id = B256::repeat_byte(5);
    assert!(
        store
            .commit_reservation(
                &swap_id,
                &order.id,
                Lots(4),
                Lots(6),
                OrderStatus::Open,
                None,
                2
            )
            .unwrap()
    );
    // Asked again (a restart re-runs the commit): nothing changes.
    assert!(
        !store
            .commit_reservation(
                &swap_id,
                &order.id,
                Lots(4),
                Lots(2),
                OrderStatus::Open,
                None,
                3
            )
            .unwrap()
    );
    assert_eq!(
        store.own_order(&order.id).unwrap().unwrap().remaining,
        Lots(6)
    );
    assert_eq!(store.committed_swaps().unwrap(), vec![swap_id]);
    // A commit that would raise remaining fails whole: no commit row either.
    let other = B256::repeat_byte(6);
    assert!(
        store
            .commit_reservation(
                &other,
                &order.id,
                Lots(1),
                Lots(7),
                OrderStatus::Open,
                None,
                4
            )
            .is_err()
    );
    assert_eq!(store.committed_swaps().unwrap(), vec![swap_id]);
}

#[test]
fn a_hashlock_is_used_by_one_swap_ever() {
    let mut store = Store::open_in_memory().unwrap();
    let first = crate::swap(Role::Maker, 1);
    assert!(!store.hashlock_used(&first.params().hashlock).unwrap());
    store.create_swap(&record(&first), &first, 1).unwrap();
    assert!(store.hashlock_used(&first.params().hashlock).unwrap());
    // Another swap (other id) with the same hashlock is refused, finished or not.
    let mut params = first.params().clone();
    params.swap_id = B256::repeat_byte(0x99);
    let second = Swap::maker(params).unwrap();
    let err = store.create_swap(&record(&second), &second, 2).unwrap_err();
    assert!(
        matches!(err, Error::HashlockReused { hashlock } if hashlock == first.params().hashlock),
        "{err}"
    );
    assert!(store.swap(&B256::repeat_byte(0x99)).unwrap().is_none());
}

#[test]
fn a_version_1_database_is_migrated() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("node.sqlite");
    {
        // Create version 1 by hand, as a node of that version left it, with one swap.
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch(
            "CREATE TABLE swaps (swap_id BLOB PRIMARY KEY, role TEXT NOT NULL, market BLOB NOT NULL,
             own_order_id BLOB NOT NULL, counter_order_id BLOB NOT NULL, side INTEGER NOT NULL,
             price INTEGER NOT NULL, quantity INTEGER NOT NULL, peer TEXT NOT NULL,
             created_at INTEGER NOT NULL);
             CREATE TABLE chain_cursors (chain_id INTEGER PRIMARY KEY, block INTEGER NOT NULL,
             updated_at INTEGER NOT NULL);
             CREATE TABLE own_orders (order_id BLOB PRIMARY KEY, market BLOB NOT NULL,
             signed_json TEXT NOT NULL, remaining INTEGER NOT NULL, status TEXT NOT NULL,
             latest_update_json TEXT, created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL);
             INSERT INTO chain_cursors VALUES (31337, 9, 1);
             INSERT INTO swaps VALUES (x'01', 'maker', x'02', x'03', x'04', 0, 1, 1, 'p', 1);
             INSERT INTO own_orders VALUES (x'05', x'02', '{}', 1, 'open', NULL, 1, 1);
             PRAGMA user_version = 1;",
        )
        .unwrap();
    }
    // Opening it applies 1 → 2 → 3 → 4 → 5 → 6 only (version 1's other tables are not
    // recreated).
    let store = Store::open(&path).unwrap();
    assert_eq!(store.schema_version().unwrap(), 6);
    assert_eq!(store.own_order_by_client_id("any").unwrap(), None);
    let conn = rusqlite::Connection::open(&path).unwrap();
    let hashlock: Option<Vec<u8>> = conn
        .query_row("SELECT hashlock FROM swaps", [], |row| row.get(0))
        .unwrap();
    assert_eq!(hashlock, None, "swaps of version 1 keep a NULL hashlock");
    // Cursors of version 1 keep their block, without scanner state.
    assert_eq!(store.chain_cursor(31337).unwrap(), Some((9, None)));
    // Open orders across markets are found through the status index (5), in placement
    // order, without reading the closed ones.
    let plan: String = conn
        .query_row(
            "EXPLAIN QUERY PLAN SELECT rowid FROM own_orders \
             WHERE rowid > 0 AND status = 'open' ORDER BY rowid",
            [],
            |row| row.get(3),
        )
        .unwrap();
    assert!(plan.contains("own_orders_by_status"), "{plan}");
    // Orders stored before 6 are resting (GTC) ones, as they were restored then.
    let ioc: i64 = conn
        .query_row("SELECT ioc FROM own_orders", [], |row| row.get(0))
        .unwrap();
    assert_eq!(ioc, 0);
}

/// Swaps listed by their latest change: newest first without a cursor; with one, only
/// those changed since, oldest change first, each once at its latest state.
#[test]
fn swaps_are_paged_by_their_latest_change() {
    let mut store = Store::open_in_memory().unwrap();
    let mut swaps: Vec<Swap> = (1..=3).map(|n| crate::swap(Role::Taker, n)).collect();
    let ids: Vec<B256> = swaps.iter().map(|swap| swap.params().swap_id).collect();
    // Log seqs 1, 2, 3: the creations.
    for (at, swap) in swaps.iter().enumerate() {
        store.create_swap(&record(swap), swap, at as u64).unwrap();
    }
    // Seq 4: the first swap changes; it is now the most recent.
    step(&mut store, &mut swaps[0], 10);
    let listed = |page: &dex_store::SwapsPage| -> Vec<B256> {
        page.items
            .iter()
            .map(|(record, _)| record.swap_id)
            .collect()
    };

    let newest = store.swaps_changed(None, 2).unwrap();
    assert_eq!(listed(&newest), vec![ids[0], ids[2]]);
    assert_eq!(newest.cursor, 4);
    let all = store.swaps_changed(None, 1000).unwrap();
    assert_eq!(listed(&all), vec![ids[0], ids[2], ids[1]]);
    // Each at its latest state: the first swap's step is in it.
    assert_eq!(all.items[0].1, swaps[0]);

    // Following from the start: two at a time, oldest change first.
    let first = store.swaps_changed(Some(0), 2).unwrap();
    assert_eq!(listed(&first), vec![ids[1], ids[2]]);
    assert_eq!(first.cursor, 3);
    let second = store.swaps_changed(Some(first.cursor), 2).unwrap();
    assert_eq!(listed(&second), vec![ids[0]]);
    assert_eq!(second.cursor, 4);
    // Nothing changed since: nothing listed, the cursor stays.
    let idle = store.swaps_changed(Some(second.cursor), 2).unwrap();
    assert!(idle.items.is_empty());
    assert_eq!(idle.cursor, 4);
    // Two steps of the third swap (seqs 5, 6) list it once, at its latest state.
    step(&mut store, &mut swaps[2], 11);
    step(&mut store, &mut swaps[2], 12);
    let changed = store.swaps_changed(Some(idle.cursor), 100).unwrap();
    assert_eq!(listed(&changed), vec![ids[2]]);
    assert_eq!(changed.items[0].1, swaps[2]);
    assert_eq!(changed.cursor, 6);
    // An empty store: nothing, cursor 0.
    let empty = Store::open_in_memory().unwrap();
    assert_eq!(
        empty.swaps_changed(None, 10).unwrap(),
        dex_store::SwapsPage::default()
    );
}
