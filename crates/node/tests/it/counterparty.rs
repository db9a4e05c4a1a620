//! Settlement against a counterparty the test drives by hand: it answers or sends take
//! requests and locks (or does not) on the chains itself. It shows what a node does when the
//! other side walks away or lies: it refunds after its timelock, and it never locks on a
//! peer's word.

use std::time::Duration;

use anyhow::{Context, bail};
use dex_chain::{ChainClient, ClientConfig, HtlcClient, LockParams};
use dex_network::{Acceptance, NetworkEvent, NetworkHandle, Request, Response};
use dex_node::{Counterparty, CounterpartyRecord, NodeHandle, OwnOrderStatus, TimeInForce};
use dex_primitives::{Alive, B256, Lots, Order, Side, Ticks, TraderKey, U256};
use dex_protocol::{
    ALIVE_TOPIC, GossipMessage, WireMessage, market_topic,
    take::{
        NoteKind, RejectReason, SwapAck, SwapNote, TakeAccept, TakeAnswer, TakeMessage,
        TakeRequest, sign_accept, sign_note, sign_take,
    },
};
use dex_swap::{Outcome, Secret};
use dex_test_utils::{eth_usdc_id, harness::now_ms, wait_for};
use tokio::sync::mpsc;

use dex_devnet::inproc::{block_number, fees_paid, wallet};

use crate::settlement::{
    SWAP_DEADLINE_SECS, Settled, finished_swaps, order, settled, wait_offered,
};

/// A bare network peer linked to node 0, subscribed to the market and heartbeat topics.
async fn counterparty(
    settled: &Settled,
) -> anyhow::Result<(NetworkHandle, mpsc::Receiver<NetworkEvent>)> {
    let (handle, events) = crate::raw_peer().await?;
    let topic = market_topic(&eth_usdc_id());
    handle.subscribe(topic.clone()).await?;
    handle.subscribe(ALIVE_TOPIC).await?;
    for node in &settled.net.nodes {
        handle.dial(node.address.clone()).await?;
    }
    let node_peer = settled.net.nodes[0].peer_id;
    wait_for(
        "the counterparty in node 0's mesh",
        Duration::from_secs(30),
        || async {
            handle
                .peers(Some(topic.clone()))
                .await
                .is_ok_and(|view| view.subscribed.contains(&node_peer))
        },
    )
    .await?;
    Ok((handle, events))
}

/// The next take request the counterparty receives (gossip is judged valid meanwhile).
async fn next_take(
    handle: &NetworkHandle,
    events: &mut mpsc::Receiver<NetworkEvent>,
) -> anyhow::Result<(dex_network::RequestId, TakeMessage)> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(SWAP_DEADLINE_SECS);
    loop {
        let event = tokio::time::timeout_at(deadline, events.recv())
            .await
            .context("no take request in time")?
            .context("network stopped")?;
        match event {
            NetworkEvent::Request {
                id,
                request: Request::Take(message),
                ..
            } => return Ok((id, *message)),
            NetworkEvent::Gossip(gossip) => {
                handle
                    .report(gossip.message_id, gossip.source, Acceptance::Accept)
                    .await?;
            }
            _ => {}
        }
    }
}

async fn htlc(
    rpc_url: &str,
    chain_id: u64,
    htlc: dex_primitives::Address,
    key: &TraderKey,
) -> anyhow::Result<HtlcClient> {
    let client = ChainClient::connect(rpc_url, chain_id, key, ClientConfig::local()).await?;
    Ok(client.htlc_at(htlc).await?)
}

/// The bare peer, as maker `maker_key`, gossips an ask of 100 lots at 2500 (and a
/// heartbeat for it), and waits until `node` offers it.
async fn offer_ask(
    peer: &NetworkHandle,
    maker_key: &TraderKey,
    node: &NodeHandle,
) -> anyhow::Result<dex_primitives::OrderId> {
    let now = now_ms();
    let ask = Order {
        market: eth_usdc_id(),
        side: Side::Sell,
        price: Ticks(250_000),
        quantity: Lots(100),
        min_fill: Lots(1),
        maker: maker_key.address(),
        peer: peer.peer_id().to_base58(),
        nonce: 1,
        created_at: now,
        expires_at: now + 3_600_000,
    }
    .sign(maker_key);
    let ask_id = ask.order.id();
    let alive = Alive {
        maker: maker_key.address(),
        peer: peer.peer_id().to_base58(),
        market: eth_usdc_id(),
        open_orders: 1,
        orders_root: B256::ZERO,
        timestamp: now,
    }
    .sign(maker_key);
    peer.publish(
        market_topic(&eth_usdc_id()),
        GossipMessage::Order(ask).encode()?,
    )
    .await?;
    peer.publish(ALIVE_TOPIC, GossipMessage::Alive(alive).encode()?)
        .await?;
    wait_offered(node, ask_id, Some(100)).await?;
    Ok(ask_id)
}

/// The next swap note the counterparty receives (acknowledged; gossip is judged valid
/// meanwhile).
async fn next_note(
    handle: &NetworkHandle,
    events: &mut mpsc::Receiver<NetworkEvent>,
) -> anyhow::Result<SwapNote> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(SWAP_DEADLINE_SECS);
    loop {
        let event = tokio::time::timeout_at(deadline, events.recv())
            .await
            .context("no swap note in time")?
            .context("network stopped")?;
        match event {
            NetworkEvent::Request {
                id,
                request: Request::Swap(message),
                ..
            } => {
                handle.respond(id, Response::Swap(SwapAck::Ack)).await?;
                let dex_protocol::take::SwapMessage::Note { note, .. } = message;
                return Ok(note);
            }
            NetworkEvent::Gossip(gossip) => {
                handle
                    .report(gossip.message_id, gossip.source, Acceptance::Accept)
                    .await?;
            }
            _ => {}
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_maker_that_never_locks_leaves_the_taker_to_refund_after_t1() -> anyhow::Result<()> {
    let settled = settled(2).await?;
    let chains = settled.chains.clone();
    let taker = settled.net.node(0)?.clone();
    let taker_addr = settled.net.nodes[0].trader.address();
    let (peer, mut events) = counterparty(&settled).await?;
    // The counterparty trades as devnet trader 1 (node 1 stays idle).
    let maker_key = chains.traders[1].key()?;
    offer_ask(&peer, &maker_key, &taker).await?;

    let start = block_number(&chains.quote.rpc_url)?;
    let before = wallet(&chains, taker_addr).await?;
    taker
        .place_order(order(Side::Buy, 250_000, 100, TimeInForce::Ioc))
        .await?;
    // Accept the take, then never lock.
    let (id, message) = next_take(&peer, &mut events).await?;
    let TakeMessage::Take { request, .. } = message;
    let accept = TakeAccept {
        request_id: request.id(),
        swap_id: request.swap_id(),
        quantity: request.quantity,
        reserved_until: now_ms() + 60_000,
        timestamp: now_ms(),
    };
    peer.respond(id, Response::Take(sign_accept(accept, &maker_key)))
        .await?;
    // The taker locks its USDC on the quote chain.
    wait_for(
        "the taker's lock",
        Duration::from_secs(SWAP_DEADLINE_SECS),
        || async {
            wallet(&chains, taker_addr)
                .await
                .is_ok_and(|now| now.usdc < before.usdc)
        },
    )
    .await?;
    assert_eq!(
        wallet(&chains, taker_addr).await?.usdc,
        before.usdc - U256::from(250_000_000u64)
    );
    // T1 is 2Δ = 1200 s of chain time away: move the quote chain past it.
    chains.quote.advance_time(1300).await?;
    let swaps = finished_swaps(&taker, 1).await?;
    assert_eq!(swaps[0].1.outcome(), Some(&Outcome::Refunded));
    let end = block_number(&chains.quote.rpc_url)?;
    let after = wallet(&chains, taker_addr).await?;
    let fees = fees_paid(&chains.quote.rpc_url, taker_addr, start + 1, end)?;
    assert_eq!(after.usdc, before.usdc, "the USDC came back in full");
    assert_eq!(
        after.quote_eth,
        before.quote_eth - fees,
        "only gas was spent"
    );
    // The taker's record of that maker, as a trader and as a node: one swap refunded.
    let expected = [
        Counterparty::Peer(peer.peer_id()),
        Counterparty::Trader(maker_key.address()),
    ];
    assert_records(&taker, &expected, |record| {
        (record.refunded, record.never_locked)
    })
    .await?;
    // The order was immediate-or-cancel: the quantity of its failed swap is not offered
    // again as a resting order (one the client never asked for, at a price it may no
    // longer want, for the rest of the order's lifetime).
    let open = taker
        .own_orders(Some(eth_usdc_id()), Some(OwnOrderStatus::Open))
        .await?;
    assert!(open.is_empty(), "an IOC order's quantity rests: {open:?}");
    Ok(())
}

/// A taker that cancels its order while a take of it waits for the maker's answer does not
/// trade it: the accept that arrives after the cancel is answered with an abort (so the
/// maker frees its reservation), no swap starts and nothing is locked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_accept_that_arrives_after_the_takers_cancel_starts_no_swap() -> anyhow::Result<()> {
    let settled = settled(2).await?;
    let chains = settled.chains.clone();
    let taker = settled.net.node(0)?.clone();
    let taker_addr = settled.net.nodes[0].trader.address();
    let (peer, mut events) = counterparty(&settled).await?;
    let maker_key = chains.traders[1].key()?;
    offer_ask(&peer, &maker_key, &taker).await?;
    let before = wallet(&chains, taker_addr).await?;
    let bid = taker
        .place_order(order(Side::Buy, 250_000, 100, TimeInForce::Ioc))
        .await?;
    let (id, message) = next_take(&peer, &mut events).await?;
    let TakeMessage::Take { request, .. } = message;
    // The trader cancels; then the maker's accept arrives.
    taker.cancel_own_order(bid).await?;
    let accept = TakeAccept {
        request_id: request.id(),
        swap_id: request.swap_id(),
        quantity: request.quantity,
        reserved_until: now_ms() + 60_000,
        timestamp: now_ms(),
    };
    peer.respond(id, Response::Take(sign_accept(accept, &maker_key)))
        .await?;
    let note = next_note(&peer, &mut events).await?;
    assert_eq!(note.swap_id, request.swap_id());
    assert_eq!(
        note.kind,
        NoteKind::Abort,
        "the cancelled order's take went on: {note:?}"
    );
    assert!(taker.swaps().await?.is_empty(), "a swap started");
    let (own, _) = taker.own_order(bid).await?;
    assert_eq!(own.status, OwnOrderStatus::Cancelled);
    assert_eq!(wallet(&chains, taker_addr).await?.usdc, before.usdc);
    Ok(())
}

/// Every counterparty in `expected` has a record (and no other), each with one failure
/// in a row, and `counts` of it is (1, 0).
async fn assert_records(
    node: &NodeHandle,
    expected: &[Counterparty],
    counts: impl Fn(&CounterpartyRecord) -> (u32, u32),
) -> anyhow::Result<()> {
    let mut records = node.counterparties().await?;
    records.sort_by_key(|(party, _)| *party);
    let mut expected = expected.to_vec();
    expected.sort();
    let parties: Vec<Counterparty> = records.iter().map(|(party, _)| *party).collect();
    assert_eq!(parties, expected);
    for (party, record) in records {
        assert_eq!(counts(&record), (1, 0), "{party:?}: {record:?}");
        assert_eq!(
            (record.completed, record.failing_in_a_row),
            (0, 1),
            "{party:?}"
        );
        assert_eq!(
            record.refused_until, None,
            "one failure is not yet a refusal"
        );
    }
    Ok(())
}

/// The counterparty, as `taker_key`, locks 250 USDC for `maker_addr` on the quote chain
/// under `secret`'s hashlock with T1 1200 s away, and waits until `maker` has locked its
/// leg of swap `swap_id`: the counterparty's HTLC client and its lock.
async fn lock_and_wait_for_the_maker(
    chains: &dex_devnet::DevnetChains,
    taker_key: &TraderKey,
    maker: &NodeHandle,
    maker_addr: dex_primitives::Address,
    swap_id: dex_swap::SwapId,
    secret: &Secret,
) -> anyhow::Result<(HtlcClient, LockParams)> {
    let taker_htlc = htlc(
        &chains.quote.rpc_url,
        chains.quote.chain_id,
        chains.quote.htlc,
        taker_key,
    )
    .await?;
    let t1 = taker_htlc.chain().latest_block_timestamp().await? + 1200;
    let params = LockParams {
        chain_id: chains.quote.chain_id,
        contract: chains.quote.htlc,
        sender: taker_key.address(),
        recipient: maker_addr,
        token: chains.usdc.address,
        amount: U256::from(250_000_000u64),
        hashlock: secret.hashlock(),
        timelock: t1,
    };
    taker_htlc.lock(&params).await?;
    wait_for(
        "the maker's lock",
        Duration::from_secs(SWAP_DEADLINE_SECS),
        || async {
            maker
                .swap(swap_id)
                .await
                .is_ok_and(|(_, swap, _)| dex_node::phase_name(&swap) == "makerLocked")
        },
    )
    .await?;
    Ok((taker_htlc, params))
}

/// The bare peer, as trader `taker_key`, asks node `maker_peer` to take all 100 lots of
/// `ask` (a buy at 2500) under `secret`'s hashlock, with its own bid of nonce `nonce`:
/// the request's id and the answer.
async fn take_all(
    peer: &NetworkHandle,
    maker_peer: dex_network::PeerId,
    taker_key: &TraderKey,
    chains: &dex_devnet::DevnetChains,
    ask: dex_primitives::OrderId,
    secret: &Secret,
    nonce: u64,
) -> anyhow::Result<(B256, Response)> {
    let now = now_ms();
    let bid = Order {
        market: eth_usdc_id(),
        side: Side::Buy,
        price: Ticks(250_000),
        quantity: Lots(100),
        min_fill: Lots(1),
        maker: taker_key.address(),
        peer: peer.peer_id().to_base58(),
        nonce,
        created_at: now,
        expires_at: now + 3_600_000,
    }
    .sign(taker_key);
    let request = TakeRequest {
        maker_order_id: ask,
        taker_order_id: bid.order.id(),
        quantity: 100,
        hashlock: secret.hashlock(),
        taker_htlc: chains.quote.htlc,
        maker_htlc: chains.base.htlc,
        taker_lock_secs: 1200,
        timestamp: now,
    };
    let answer = peer
        .request(
            maker_peer,
            Request::Take(Box::new(sign_take(request, bid, taker_key))),
        )
        .await?;
    Ok((request.id(), answer))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forged_lock_hint_gets_no_lock_and_a_taker_that_never_claims_is_refunded_after_t2()
-> anyhow::Result<()> {
    let settled = settled(2).await?;
    let chains = settled.chains.clone();
    let maker: NodeHandle = settled.net.node(0)?.clone();
    let maker_addr = settled.net.nodes[0].trader.address();
    let maker_peer = settled.net.nodes[0].peer_id;
    let (peer, _events) = counterparty(&settled).await?;
    let taker_key = chains.traders[1].key()?;

    let ask = maker
        .place_order(order(Side::Sell, 250_000, 100, TimeInForce::Gtc))
        .await?;
    let start = block_number(&chains.base.rpc_url)?;
    let before = wallet(&chains, maker_addr).await?;

    // The counterparty takes the whole order with a hashlock whose secret it keeps.
    let secret = Secret(B256::repeat_byte(0x42));
    let (_, answer) = take_all(&peer, maker_peer, &taker_key, &chains, ask, &secret, 2).await?;
    let Response::Take(TakeAnswer::Accepted { accept, .. }) = answer else {
        bail!("take not accepted: {answer:?}")
    };
    let swap_id = accept.swap_id;

    // A forged hint: "I locked" with a lock that does not exist. The maker checks the chain
    // and does nothing.
    let forged = SwapNote {
        swap_id,
        kind: NoteKind::Locked,
        data: B256::repeat_byte(0x66),
        timestamp: now_ms(),
    };
    let ack = peer
        .request(maker_peer, Request::Swap(sign_note(forged, &taker_key)))
        .await?;
    assert_eq!(ack, Response::Swap(SwapAck::Ack));
    let (_, swap, _) = maker.swap(swap_id).await?;
    assert_eq!(
        dex_node::phase_name(&swap),
        "makerWaiting",
        "no lock on a peer's word"
    );
    assert_eq!(wallet(&chains, maker_addr).await?.base_eth, before.base_eth);

    // Now the counterparty really locks 250 USDC on the quote chain; the maker locks ETH.
    let (taker_htlc, params) =
        lock_and_wait_for_the_maker(&chains, &taker_key, &maker, maker_addr, swap_id, &secret)
            .await?;
    // The counterparty never claims. After T2 (Δ = 600 s on the base chain) the maker refunds.
    chains.base.advance_time(700).await?;
    let swaps = finished_swaps(&maker, 1).await?;
    assert_eq!(swaps[0].1.outcome(), Some(&Outcome::Refunded));
    let end = block_number(&chains.base.rpc_url)?;
    let fees = fees_paid(&chains.base.rpc_url, maker_addr, start + 1, end)?;
    let after = wallet(&chains, maker_addr).await?;
    assert_eq!(
        after.base_eth,
        before.base_eth - fees,
        "the ETH came back, less gas"
    );
    assert_eq!(after.usdc, before.usdc, "and no USDC was taken");
    // The maker's record of that taker: one swap refunded (it never claimed).
    let expected = [
        Counterparty::Peer(peer.peer_id()),
        Counterparty::Trader(taker_key.address()),
    ];
    assert_records(&maker, &expected, |record| {
        (record.refunded, record.never_locked)
    })
    .await?;
    // The committed quantity is offered again as a new order.
    wait_for(
        "the quantity re-posted",
        Duration::from_secs(SWAP_DEADLINE_SECS),
        || async {
            maker
                .own_orders(Some(eth_usdc_id()), Some(OwnOrderStatus::Open))
                .await
                .is_ok_and(|orders| {
                    orders
                        .iter()
                        .any(|o| o.id != ask && o.remaining == Lots(100))
                })
        },
    )
    .await?;
    // Clean up: the counterparty takes its USDC back after T1.
    chains.quote.advance_time(1300).await?;
    taker_htlc.refund(&params).await?;
    Ok(())
}

/// A maker that cancels its order while a swap of part of it is under way withdraws all of
/// it: when that swap is refunded, its quantity is not offered again at the old price (a
/// quote the maker took down would come back for anyone to take).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_orders_quantity_is_not_offered_again_when_its_swap_is_refunded()
-> anyhow::Result<()> {
    let settled = settled(2).await?;
    let chains = settled.chains.clone();
    let maker: NodeHandle = settled.net.node(0)?.clone();
    let maker_addr = settled.net.nodes[0].trader.address();
    let maker_peer = settled.net.nodes[0].peer_id;
    let (peer, _events) = counterparty(&settled).await?;
    let taker_key = chains.traders[1].key()?;

    // 200 lots; the counterparty takes 100 of them and locks its USDC.
    let ask = maker
        .place_order(order(Side::Sell, 250_000, 200, TimeInForce::Gtc))
        .await?;
    let secret = Secret(B256::repeat_byte(0x44));
    let (_, answer) = take_all(&peer, maker_peer, &taker_key, &chains, ask, &secret, 4).await?;
    let Response::Take(TakeAnswer::Accepted { accept, .. }) = answer else {
        bail!("take not accepted: {answer:?}")
    };
    let (taker_htlc, params) = lock_and_wait_for_the_maker(
        &chains,
        &taker_key,
        &maker,
        maker_addr,
        accept.swap_id,
        &secret,
    )
    .await?;

    // The maker cancels what is left of its order (100 lots); the swap goes on.
    maker.cancel_own_order(ask).await?;
    let (own, _) = maker.own_order(ask).await?;
    assert_eq!(own.status, OwnOrderStatus::Cancelled);
    assert_eq!(own.remaining, Lots::ZERO);

    // The counterparty never claims; after T2 the maker refunds.
    chains.base.advance_time(700).await?;
    let swaps = finished_swaps(&maker, 1).await?;
    assert_eq!(swaps[0].1.outcome(), Some(&Outcome::Refunded));
    // The refund and any re-post are one step of the node: nothing of the cancelled order
    // is open now, and nothing was placed after it.
    let orders = maker.own_orders(Some(eth_usdc_id()), None).await?;
    let open: Vec<_> = orders
        .iter()
        .filter(|o| o.status == OwnOrderStatus::Open)
        .collect();
    assert!(
        open.is_empty(),
        "a cancelled order's quantity is offered again: {open:?}"
    );
    assert_eq!(
        orders.len(),
        1,
        "orders placed after the cancel: {orders:?}"
    );
    // Clean up: the counterparty takes its USDC back after T1.
    chains.quote.advance_time(1300).await?;
    taker_htlc.refund(&params).await?;
    Ok(())
}

/// A maker that cancels its order while a take of it is reserved (accepted, the taker not
/// locked yet) still owes that take its lock: the quantity moves from what the order
/// reserves to what swaps hold, so the same ETH cannot back a new order meanwhile.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancel_during_a_reserved_take_keeps_its_quantity_held() -> anyhow::Result<()> {
    let settled = settled(2).await?;
    let chains = settled.chains.clone();
    let maker: NodeHandle = settled.net.node(0)?.clone();
    let maker_addr = settled.net.nodes[0].trader.address();
    let maker_peer = settled.net.nodes[0].peer_id;
    let (peer, _events) = counterparty(&settled).await?;
    let taker_key = chains.traders[1].key()?;
    let eth = || async {
        let balances = maker.balances().await?;
        balances
            .into_iter()
            .find(|b| {
                b.trader == maker_addr
                    && b.chain_id == chains.base.chain_id
                    && b.token == dex_primitives::Address::ZERO
            })
            .context("no ETH balance of the maker")
    };
    let ask = maker
        .place_order(order(Side::Sell, 250_000, 100, TimeInForce::Gtc))
        .await?;
    let secret = Secret(B256::repeat_byte(0x45));
    let (_, answer) = take_all(&peer, maker_peer, &taker_key, &chains, ask, &secret, 5).await?;
    let Response::Take(TakeAnswer::Accepted { .. }) = answer else {
        bail!("take not accepted: {answer:?}")
    };
    let before = eth().await?;
    // 100 lots of 0.001 ETH, reserved by the order while the take waits for the lock.
    let lots = U256::from(100u64) * U256::from(10u64).pow(U256::from(15u64));
    assert_eq!(before.reserved_by_orders, lots);
    maker.cancel_own_order(ask).await?;
    let after = eth().await?;
    assert_eq!(after.reserved_by_orders, U256::ZERO);
    assert_eq!(
        after.locked_in_swaps,
        before.locked_in_swaps + lots,
        "the reserved take is held by its swap"
    );
    assert_eq!(
        after.free, before.free,
        "the cancel freed ETH a swap still owes"
    );
    Ok(())
}

/// A taker whose address holds none of what it must lock (read from the chain by the
/// maker's node) is refused with `InsufficientFunds` before anything is reserved: no swap,
/// the maker's order whole.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_taker_that_holds_nothing_on_chain_is_refused_before_anything_is_reserved()
-> anyhow::Result<()> {
    let settled = settled(2).await?;
    let chains = settled.chains.clone();
    let maker: NodeHandle = settled.net.node(0)?.clone();
    let maker_addr = settled.net.nodes[0].trader.address();
    let maker_peer = settled.net.nodes[0].peer_id;
    let (peer, _events) = counterparty(&settled).await?;
    // A fresh key: no USDC and no ETH anywhere.
    let taker_key = dex_test_utils::trader(7_777);
    assert_eq!(wallet(&chains, taker_key.address()).await?.usdc, U256::ZERO);

    let ask = maker
        .place_order(order(Side::Sell, 250_000, 100, TimeInForce::Gtc))
        .await?;
    let secret = Secret(B256::repeat_byte(0x43));
    let (request_id, answer) =
        take_all(&peer, maker_peer, &taker_key, &chains, ask, &secret, 3).await?;
    let Response::Take(answer @ TakeAnswer::Rejected { .. }) = answer else {
        bail!("take not refused: {answer:?}")
    };
    answer.verify(&request_id, maker_addr)?;
    let TakeAnswer::Rejected { reject, detail, .. } = answer else {
        unreachable!()
    };
    assert_eq!(reject.reason, RejectReason::InsufficientFunds, "{detail}");
    assert!(detail.contains("the take locks 250000000"), "{detail}");
    assert!(maker.swaps().await?.is_empty(), "no swap started");
    let depth = maker.depth(eth_usdc_id(), 1).await?;
    assert_eq!(
        depth.asks[0].quantity,
        Lots(100),
        "nothing reserved: {depth:?}"
    );
    Ok(())
}
