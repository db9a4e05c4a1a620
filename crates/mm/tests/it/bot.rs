//! The `dex-mm` binary against real nodes: a bot on node A, observed and traded against from
//! node B, on two anvil chains.

use std::{
    collections::HashSet,
    time::{Duration, Instant},
};

use dex_api::types::{PlaceOrderRequest, SideName, TimeInForce};
use dex_test_utils::metrics::Scrape;
use nix::sys::signal::Signal;

use crate::harness::{DEADLINE, Exchange, PriceServer, bot_config, ladder, wait_until};

/// The bot's orders are node A's open orders at the ladder's prices.
fn open_ids(exchange: &Exchange) -> HashSet<String> {
    exchange
        .maker
        .open_orders()
        .iter()
        .map(|order| order.order_id.to_string())
        .collect()
}

fn wait_for_ladder(exchange: &Exchange, bot: &str, mid: u64) {
    let expected = ladder(mid);
    wait_until(
        &format!("node B's book to show the ladder around {mid}"),
        DEADLINE,
        || format!("book: {:?}\n{}", exchange.taker.levels(), exchange.log(bot)),
        || (exchange.taker.levels() == expected).then_some(()),
    );
}

fn wait_for_empty_book(exchange: &Exchange, bot: &str) {
    wait_until(
        "node B's book to be empty",
        DEADLINE,
        || format!("book: {:?}\n{}", exchange.taker.levels(), exchange.log(bot)),
        || {
            let (bids, asks) = exchange.taker.levels();
            (bids.is_empty() && asks.is_empty()).then_some(())
        },
    );
}

/// An ETH/USDC order placed by hand (not by the bot).
fn order(
    side: SideName,
    price: &str,
    quantity: &str,
    time_in_force: TimeInForce,
) -> PlaceOrderRequest {
    PlaceOrderRequest {
        market: "ETH/USDC".into(),
        side,
        price: price.into(),
        quantity: quantity.into(),
        min_fill: None,
        time_in_force,
        expires_in: None,
        client_order_id: None,
    }
}

/// The value of one series of the bot's `/metrics`, read with an OpenMetrics parser:
/// `series` is a sample name with, optionally, the labels it must have
/// (`dex_mm_halts_total{cause="api"}`).
fn metric(text: &str, series: &str) -> Option<f64> {
    let (name, labels) = match series.split_once('{') {
        Some((name, labels)) => (name, labels.trim_end_matches('}')),
        None => (series, ""),
    };
    let wanted: Vec<(&str, &str)> = labels
        .split(',')
        .filter(|pair| !pair.is_empty())
        .filter_map(|pair| {
            let (key, value) = pair.split_once('=')?;
            Some((key, value.trim_matches('"')))
        })
        .collect();
    let scrape = Scrape::parse(text).unwrap_or_else(|err| panic!("{err}"));
    scrape.series(name, &wanted).first().copied()
}

fn bot_metrics(exchange: &Exchange, bot: &str) -> String {
    let address = exchange.bot_metrics_address(bot);
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(10)))
        .build()
        .into();
    agent
        .get(&format!("http://{address}/metrics"))
        .call()
        .expect("the bot serves metrics")
        .body_mut()
        .read_to_string()
        .expect("a text body")
}

/// Static price: the ladder shows on the other node; a crashed bot's orders are cancelled
/// by its next start (and the operator's own order is left alone); a taker on node B fills
/// a quote, the swap settles, the bot re-quotes that level; SIGINT cancels everything
/// before the bot exits.
#[test]
fn static_quotes_survive_a_crash_get_filled_and_are_cancelled_on_sigint() {
    let mut exchange = Exchange::start();
    let state_file = exchange.dir().join("mm-state.json");
    let config = bot_config("static:2500", &state_file, 200, 5_000, true);

    // 1. The configured levels on both sides, at the expected prices, seen from node B.
    exchange.start_bot("mm", &config);
    wait_for_ladder(&exchange, "mm", 2500);
    let first_run = open_ids(&exchange);
    assert_eq!(first_run.len(), 6, "{first_run:?}");

    // 2. A crash leaves the quotes; an order the operator placed by hand on the same node
    // must survive the bot's restarts and shutdown.
    exchange.crash("mm");
    let manual = exchange
        .maker
        .place(&order(SideName::Buy, "2000", "0.005", TimeInForce::Gtc));
    assert_eq!(manual.status, "open", "{manual:?}");
    let manual_id = manual.order_id.to_string();
    assert_eq!(
        exchange.taker.levels().1,
        ladder(2500).1,
        "asks stay after a crash"
    );

    // The next run cancels the six leftovers and quotes six new orders.
    let bot_pid = exchange.start_bot("mm", &config);
    let second_run = wait_until(
        "the restarted bot to replace its leftovers",
        DEADLINE,
        || exchange.log("mm"),
        || {
            let open = open_ids(&exchange);
            let fresh: HashSet<String> = open
                .iter()
                .filter(|id| **id != manual_id)
                .cloned()
                .collect();
            (fresh.len() == 6 && fresh.is_disjoint(&first_run)).then_some(fresh)
        },
    );
    for id in &first_run {
        assert_eq!(exchange.maker.order(id).status, "cancelled", "{id}");
    }
    let log = exchange.log("mm");
    assert!(
        log.contains("cancelling the orders a previous run left open"),
        "{log}"
    );
    let (mut bids, asks) = ladder(2500);
    bids.push(("2000".into(), "0.005".into(), 1));
    wait_until(
        "node B's book to show the new ladder and the manual order",
        DEADLINE,
        || format!("{:?}", exchange.taker.levels()),
        || (exchange.taker.levels() == (bids.clone(), asks.clone())).then_some(()),
    );

    // 3. A taker on node B buys the best ask; the swap settles on both chains.
    let best_ask = exchange
        .maker
        .open_orders()
        .into_iter()
        .find(|order| order.side.as_str() == "sell" && order.price == "2502.5")
        .expect("the bot's best ask");
    assert!(second_run.contains(&best_ask.order_id.to_string()));
    let take = exchange
        .taker
        .place(&order(SideName::Buy, "2502.5", "0.01", TimeInForce::Ioc));
    assert_eq!(take.quantity, "0.01", "{take:?}");
    let swap_id = wait_until(
        "the taker's swap to finish",
        DEADLINE,
        || format!("{:?}\n{}", exchange.taker.swaps(), exchange.logs()),
        || {
            let swaps = exchange.taker.swaps().swaps;
            let swap = swaps.first()?;
            (swap.phase == "finished").then(|| swap.swap_id.to_string())
        },
    );
    let history = exchange.taker.swap(&swap_id);
    let finished = history
        .events
        .iter()
        .flat_map(|event| event.actions.as_array().cloned().unwrap_or_default())
        .find(|action| action["action"] == "finished")
        .expect("a finished action");
    assert_eq!(finished["outcome"], "completed", "{history:?}");
    assert_eq!(history.swap.quantity, "0.01");
    assert_eq!(history.swap.price, "2502.5");
    assert_eq!(history.swap.counter_order_id, best_ask.order_id);
    wait_until(
        "the maker's side of the swap to finish",
        DEADLINE,
        || format!("{:?}", exchange.maker.swaps()),
        || {
            let swaps = exchange.maker.swaps().swaps;
            swaps
                .iter()
                .any(|swap| swap.own_order_id == best_ask.order_id && swap.phase == "finished")
                .then_some(())
        },
    );
    assert_eq!(
        exchange.maker.order(&best_ask.order_id.to_string()).status,
        "filled"
    );

    // The bot re-quotes the filled level with a new order; the book is whole again.
    wait_until(
        "the bot to re-quote the filled level",
        DEADLINE,
        || format!("{:?}\n{}", exchange.taker.levels(), exchange.log("mm")),
        || {
            let requoted = exchange.maker.open_orders().into_iter().any(|order| {
                order.side.as_str() == "sell"
                    && order.price == "2502.5"
                    && order.order_id != best_ask.order_id
            });
            (requoted && exchange.taker.levels() == (bids.clone(), asks.clone())).then_some(())
        },
    );
    wait_until(
        "the bot to count the fill",
        DEADLINE,
        || exchange.log("mm"),
        || {
            let log = exchange.log("mm");
            (log.contains("a quote was filled") && log.contains("a swap of the bot completed"))
                .then_some(())
        },
    );
    let metrics = bot_metrics(&exchange, "mm");
    assert_eq!(
        metric(&metrics, "dex_mm_fills_total"),
        Some(1.0),
        "{metrics}"
    );
    assert_eq!(metric(&metrics, "dex_mm_quoting"), Some(1.0), "{metrics}");
    // It sold 0.01 of its 1 ETH at 2502.5.
    assert!(
        metrics.contains("dex_mm_inventory{asset=\"base\"} 0.99\n"),
        "{metrics}"
    );

    // 4. SIGINT: every quote is cancelled before the process exits with success.
    exchange.signal(bot_pid, Signal::SIGINT);
    assert_eq!(exchange.wait_exit("mm"), Some(0), "{}", exchange.log("mm"));
    let open: Vec<String> = open_ids(&exchange).into_iter().collect();
    assert_eq!(
        open,
        vec![manual_id.clone()],
        "only the manual order is left"
    );
    wait_until(
        "node B's book to lose the bot's quotes",
        DEADLINE,
        || format!("{:?}", exchange.taker.levels()),
        || {
            (exchange.taker.levels() == (vec![("2000".into(), "0.005".into(), 1)], vec![]))
                .then_some(())
        },
    );
    let log = exchange.log("mm");
    assert!(log.contains("every order of the bot is cancelled"), "{log}");
}

/// HTTP price, quoting on the node's balances: a price change moves the quotes on node B; a
/// price server that stops cancels every quote within max_price_age_ms (plus one refresh),
/// and the bot says why.
#[test]
fn an_http_price_moves_the_quotes_and_its_failure_cancels_them() {
    let mut exchange = Exchange::start();
    let mut server = PriceServer::start(r#"{"data": {"price": "2500"}}"#);
    let state_file = exchange.dir().join("mm-http.json");
    let max_age_ms = 3_000;
    let refresh_ms = 200;
    let config = bot_config(
        &server.url("/data/price"),
        &state_file,
        refresh_ms,
        max_age_ms,
        false,
    );
    exchange.start_bot("mm-http", &config);
    wait_for_ladder(&exchange, "mm-http", 2500);

    server.set(r#"{"data": {"price": 2600}}"#);
    wait_for_ladder(&exchange, "mm-http", 2600);

    server.stop();
    let stopped = Instant::now();
    // The last good price was fetched at most one refresh before the stop; it is stale
    // max_age_ms after that, and the cancels take a moment on a busy machine.
    let allowed = Duration::from_millis(max_age_ms + refresh_ms) + Duration::from_secs(10);
    wait_until(
        "the bot to cancel every quote after its price source died",
        allowed,
        || exchange.log("mm-http"),
        || exchange.maker.open_orders().is_empty().then_some(()),
    );
    eprintln!(
        "quotes cancelled {:?} after the price source stopped",
        stopped.elapsed()
    );
    wait_for_empty_book(&exchange, "mm-http");
    // Failed fetches were tolerated until the last price was too old, then quoting halted.
    let log = exchange.log("mm-http");
    let failed = log
        .find("price source failed")
        .expect("failed fetches are logged");
    let halted = log
        .find("reference price is stale")
        .expect("the halt says why");
    assert!(failed < halted, "{log}");
    let metrics = bot_metrics(&exchange, "mm-http");
    assert_eq!(metric(&metrics, "dex_mm_quoting"), Some(0.0), "{metrics}");
    // One halt, however many refreshes it lasts.
    assert_eq!(
        metric(&metrics, "dex_mm_halts_total{cause=\"inputs\"}"),
        Some(1.0),
        "{metrics}"
    );
    assert!(
        metric(&metrics, "dex_mm_price_failures_total").is_some_and(|count| count >= 1.0),
        "{metrics}"
    );
}

/// The node goes away: after `max_api_errors` failed refreshes the bot halts and pauses;
/// when the node is back (on another port, found through its data dir's api.url) the bot
/// cancels the quotes it had and quotes the ladder again, without duplicates.
#[test]
fn a_node_outage_halts_the_bot_which_requotes_when_the_node_is_back() {
    let mut exchange = Exchange::start();
    let state_file = exchange.dir().join("mm-outage.json");
    let config = bot_config("static:2500", &state_file, 200, 5_000, false)
        .replace("max_api_errors = 10", "max_api_errors = 3");
    exchange.start_bot("mm-outage", &config);
    wait_for_ladder(&exchange, "mm-outage", 2500);
    let before = open_ids(&exchange);
    let old_url = exchange.maker.url.clone();

    exchange.stop_maker();
    wait_until(
        "the bot to halt after three failed refreshes",
        DEADLINE,
        || exchange.log("mm-outage"),
        || {
            exchange
                .log("mm-outage")
                .contains("API calls failed in 3 refreshes in a row")
                .then_some(())
        },
    );

    exchange.restart_maker();
    assert_ne!(exchange.maker.url, old_url, "the API moved to another port");
    let after = wait_until(
        "the bot to quote six new orders on the restarted node",
        DEADLINE,
        || {
            format!(
                "{:?}\n{}",
                exchange.maker.open_orders(),
                exchange.log("mm-outage")
            )
        },
        || {
            let open = open_ids(&exchange);
            (open.len() == 6 && open.is_disjoint(&before)).then_some(open)
        },
    );
    assert_eq!(after.len(), 6);
    for id in &before {
        let status = exchange.maker.order(id).status;
        assert_ne!(status, "open", "{id}");
    }
    wait_for_ladder(&exchange, "mm-outage", 2500);
    let metrics = bot_metrics(&exchange, "mm-outage");
    assert_eq!(
        metric(&metrics, "dex_mm_halts_total{cause=\"api\"}"),
        Some(1.0),
        "{metrics}"
    );
    assert_eq!(metric(&metrics, "dex_mm_quoting"), Some(1.0), "{metrics}");
}
