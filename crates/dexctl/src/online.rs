//! Subcommands that call a node's API: a table for humans, or the API's JSON with `--json`.

use std::path::Path;

use anyhow::{Context, Result};
use dex_api::types::{OwnOrderView, PlaceOrderRequest, SideName, SwapView, TimeInForce};
use dex_client::Client;
use serde::Serialize;
use serde_json::Value;

/// What a command prints: the API's JSON, and its human rendering.
pub(crate) struct Output {
    pub(crate) json: Value,
    pub(crate) text: String,
}

impl Output {
    fn generic(json: Value) -> Output {
        let text = render_generic(&json);
        Output { json, text }
    }
}

pub(crate) fn health(client: &Client) -> Result<Output> {
    let health = client.health()?;
    Ok(Output {
        json: json(&health)?,
        text: health.status,
    })
}

/// The trading page's link, once the node answers.
pub(crate) fn ui(client: &Client) -> Result<Output> {
    let link = client.page_link()?;
    client.health()?;
    Ok(Output {
        json: serde_json::json!({ "url": link }),
        text: link,
    })
}

pub(crate) fn info(client: &Client) -> Result<Output> {
    let info = client.info()?;
    let json = json(&info)?;
    let mut rows = vec![
        vec!["version".into(), info.version],
        vec!["peer id".into(), info.peer_id],
        vec!["peers".into(), info.peers.to_string()],
        vec!["markets".into(), info.markets.to_string()],
        vec![
            "settlement".into(),
            if info.settlement {
                "on"
            } else {
                "off (relay only)"
            }
            .into(),
        ],
    ];
    for trader in &info.traders {
        rows.push(vec!["trader".into(), trader.to_checksum(None)]);
    }
    for address in &info.listen_addrs {
        rows.push(vec!["listen".into(), address.clone()]);
    }
    Ok(Output {
        json,
        text: table(&[], &rows),
    })
}

pub(crate) fn peers(client: &Client) -> Result<Output> {
    let json = json(&client.peers()?)?;
    let rows: Vec<Vec<String>> = json["peers"]
        .as_array()
        .map(|peers| {
            peers
                .iter()
                .map(|peer| {
                    vec![
                        scalar(&peer["peerId"]),
                        peer.get("score").map(scalar).unwrap_or_default(),
                    ]
                })
                .collect()
        })
        .unwrap_or_default();
    let text = if rows.is_empty() {
        "no peers connected".to_owned()
    } else {
        table(&["PEER", "SCORE"], &rows)
    };
    Ok(Output { json, text })
}

pub(crate) fn markets(client: &Client) -> Result<Output> {
    let markets = client.markets()?;
    let json = json(&markets)?;
    let rows = markets
        .markets
        .iter()
        .map(|market| {
            vec![
                market.symbol.clone(),
                market.lot_size.clone(),
                market.tick_size.clone(),
                format!("{}@{}", market.base.symbol, market.base.chain_id),
                format!("{}@{}", market.quote.symbol, market.quote.chain_id),
                market.id.to_string(),
            ]
        })
        .collect::<Vec<_>>();
    Ok(Output {
        json,
        text: table(&["MARKET", "LOT", "TICK", "BASE", "QUOTE", "ID"], &rows),
    })
}

pub(crate) fn book(client: &Client, market: &str, depth: usize) -> Result<Output> {
    let book = client.book(market, depth)?;
    let json = json(&book)?;
    let mut rows = Vec::new();
    for level in book.asks.iter().rev() {
        rows.push(vec![
            "ask".into(),
            level.price.clone(),
            level.quantity.clone(),
            level.orders.to_string(),
        ]);
    }
    for level in &book.bids {
        rows.push(vec![
            "bid".into(),
            level.price.clone(),
            level.quantity.clone(),
            level.orders.to_string(),
        ]);
    }
    let text = if rows.is_empty() {
        format!("{}: the book is empty", book.symbol)
    } else {
        format!(
            "{}\n{}",
            book.symbol,
            table(&["SIDE", "PRICE", "QUANTITY", "ORDERS"], &rows)
        )
    };
    Ok(Output { json, text })
}

pub(crate) fn trades(client: &Client, market: &str) -> Result<Output> {
    let trades = client.trades(market, None)?;
    let json = json(&trades)?;
    let rows: Vec<Vec<String>> = trades
        .trades
        .iter()
        .map(|trade| {
            vec![
                trade.at.to_string(),
                trade.taker_side.as_str().to_owned(),
                trade.price.clone(),
                trade.quantity.clone(),
                trade.swap_id.map(|id| id.to_string()).unwrap_or_default(),
            ]
        })
        .collect();
    let text = if rows.is_empty() {
        format!("{}: no trades", trades.symbol)
    } else {
        format!(
            "{}\n{}",
            trades.symbol,
            table(&["AT", "TAKER", "PRICE", "QUANTITY", "SWAP"], &rows)
        )
    };
    Ok(Output { json, text })
}

/// Arguments of `order place`.
pub(crate) struct Place<'a> {
    pub(crate) market: &'a str,
    pub(crate) side: SideName,
    pub(crate) price: &'a str,
    pub(crate) quantity: &'a str,
    pub(crate) min_fill: Option<&'a str>,
    pub(crate) ioc: bool,
    pub(crate) expires_in: Option<u64>,
}

pub(crate) fn order_place(client: &Client, place: Place<'_>) -> Result<Output> {
    let request = PlaceOrderRequest {
        market: place.market.to_owned(),
        side: place.side,
        price: place.price.to_owned(),
        quantity: place.quantity.to_owned(),
        min_fill: place.min_fill.map(str::to_owned),
        time_in_force: if place.ioc {
            TimeInForce::Ioc
        } else {
            TimeInForce::Gtc
        },
        expires_in: place.expires_in,
        client_order_id: None,
    };
    let order = client.place_order(&request)?;
    let json = json(&order)?;
    let text = format!(
        "{} {} {} {} @ {}: {} (remaining {})",
        order.order_id,
        order.symbol,
        order.side.as_str(),
        order.quantity,
        order.price,
        order.status,
        order.remaining
    );
    Ok(Output { json, text })
}

pub(crate) fn order_submit(client: &Client, file: &Path) -> Result<Output> {
    let body = crate::offline::read_input(file)?;
    json(&client.post_signed_order_json(&body)?).map(Output::generic)
}

pub(crate) fn order_cancel(client: &Client, id: &str) -> Result<Output> {
    json(&client.cancel_order(id)?).map(Output::generic)
}

pub(crate) fn order_cancel_all(client: &Client, market: Option<&str>) -> Result<Output> {
    json(&client.cancel_all(market)?).map(Output::generic)
}

pub(crate) fn order_list(
    client: &Client,
    market: Option<&str>,
    status: Option<&str>,
    limit: Option<u32>,
) -> Result<Output> {
    let orders = client.orders_page(market, status, None, limit)?;
    let json = json(&orders)?;
    let rows: Vec<Vec<String>> = orders.orders.iter().map(order_row).collect();
    let text = if rows.is_empty() {
        "no orders".to_owned()
    } else {
        table(&ORDER_HEADERS, &rows)
    };
    Ok(Output { json, text })
}

pub(crate) fn order_show(client: &Client, id: &str) -> Result<Output> {
    let detail = client.order(id)?;
    let json = json(&detail)?;
    let mut text = table(&ORDER_HEADERS, &[order_row(&detail.order)]);
    if !detail.swaps.is_empty() {
        let rows: Vec<Vec<String>> = detail.swaps.iter().map(swap_row).collect();
        text.push_str("\n\n");
        text.push_str(&table(&SWAP_HEADERS, &rows));
    }
    Ok(Output { json, text })
}

const ORDER_HEADERS: [&str; 8] = [
    "ORDER",
    "MARKET",
    "SIDE",
    "PRICE",
    "QUANTITY",
    "REMAINING",
    "STATUS",
    "EXPIRES",
];

fn order_row(order: &OwnOrderView) -> Vec<String> {
    vec![
        order.order_id.to_string(),
        order.symbol.clone(),
        order.side.as_str().to_owned(),
        order.price.clone(),
        order.quantity.clone(),
        order.remaining.clone(),
        order.status.clone(),
        utc(order.expires_at),
    ]
}

/// Unix milliseconds as `YYYY-MM-DD HH:MM:SS` UTC.
fn utc(unix_ms: u64) -> String {
    let secs = unix_ms / 1000;
    let (days, rest) = (secs / 86_400, secs % 86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = era * 400 + yoe + u64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}",
        rest / 3_600,
        rest % 3_600 / 60,
        rest % 60
    )
}

fn swap_row(swap: &SwapView) -> Vec<String> {
    vec![
        swap.swap_id.to_string(),
        swap.symbol.clone(),
        swap.side.as_str().to_owned(),
        swap.price.clone(),
        swap.quantity.clone(),
        swap.phase.clone(),
        swap.peer.clone(),
    ]
}

const SWAP_HEADERS: [&str; 7] = [
    "SWAP", "MARKET", "SIDE", "PRICE", "QUANTITY", "PHASE", "PEER",
];

pub(crate) fn swaps(client: &Client, id: Option<&str>, limit: Option<u32>) -> Result<Output> {
    let Some(id) = id else {
        let swaps = client.swaps_changed(None, limit)?;
        let json = json(&swaps)?;
        let rows: Vec<Vec<String>> = swaps.swaps.iter().map(swap_row).collect();
        let text = if rows.is_empty() {
            "no swaps".to_owned()
        } else {
            table(&SWAP_HEADERS, &rows)
        };
        return Ok(Output { json, text });
    };
    let detail = client.swap(id)?;
    let json = json(&detail)?;
    let history: Vec<Vec<String>> = detail
        .events
        .iter()
        .map(|event| {
            vec![
                event.seq.to_string(),
                event.at.to_string(),
                event.phase.clone(),
                event.entry.to_string(),
            ]
        })
        .collect();
    let text = format!(
        "{}\n\n{}",
        table(&SWAP_HEADERS, &[swap_row(&detail.swap)]),
        table(&["SEQ", "AT", "PHASE", "ENTRY"], &history)
    );
    Ok(Output { json, text })
}

pub(crate) fn balances(client: &Client) -> Result<Output> {
    let balances = client.balances()?;
    let json = json(&balances)?;
    let rows: Vec<Vec<String>> = balances
        .balances
        .iter()
        .map(|balance| {
            vec![
                balance.trader.to_checksum(None),
                balance.symbol.clone(),
                balance.chain_id.to_string(),
                balance.on_chain.clone(),
                balance.locked_in_swaps.clone(),
                balance.reserved_by_orders.clone(),
                balance.free.clone(),
            ]
        })
        .collect();
    let text = if rows.is_empty() {
        "no balances".to_owned()
    } else {
        table(
            &[
                "TRADER", "ASSET", "CHAIN", "ON CHAIN", "IN SWAPS", "RESERVED", "FREE",
            ],
            &rows,
        )
    };
    Ok(Output { json, text })
}

/// An answer as the JSON `--json` prints: the node's JSON, decoded into the shared wire
/// types and encoded back (same fields, same values; keys sorted as before).
fn json(answer: &impl Serialize) -> Result<Value> {
    serde_json::to_value(answer).context("encoding the answer as JSON")
}

fn scalar(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

/// A readable rendering of any answer: an array of objects (or an object holding one) as a
/// table of its scalar fields, an object as `key value` lines.
fn render_generic(json: &Value) -> String {
    let array = match json {
        Value::Array(items) => Some(items),
        Value::Object(map) if map.len() == 1 => map.values().next().and_then(Value::as_array),
        _ => None,
    };
    if let Some(items) = array {
        if items.is_empty() {
            return "none".into();
        }
        let mut headers: Vec<String> = Vec::new();
        for item in items {
            if let Value::Object(map) = item {
                for (key, value) in map {
                    if !value.is_object() && !value.is_array() && !headers.contains(key) {
                        headers.push(key.clone());
                    }
                }
            }
        }
        let rows: Vec<Vec<String>> = items
            .iter()
            .map(|item| headers.iter().map(|key| scalar(&item[key])).collect())
            .collect();
        let headers: Vec<String> = headers.iter().map(|h| h.to_uppercase()).collect();
        let headers: Vec<&str> = headers.iter().map(String::as_str).collect();
        return table(&headers, &rows);
    }
    match json {
        Value::Object(map) => {
            let rows: Vec<Vec<String>> = map
                .iter()
                .map(|(key, value)| {
                    let shown = if value.is_object() || value.is_array() {
                        value.to_string()
                    } else {
                        scalar(value)
                    };
                    vec![key.clone(), shown]
                })
                .collect();
            table(&[], &rows)
        }
        other => scalar(other),
    }
}

/// Left-aligned columns separated by two spaces; a header row if given.
pub(crate) fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let columns = rows
        .iter()
        .map(Vec::len)
        .chain(std::iter::once(headers.len()))
        .max()
        .unwrap_or(0);
    let mut widths = vec![0; columns];
    for (index, header) in headers.iter().enumerate() {
        widths[index] = widths[index].max(header.chars().count());
    }
    for row in rows {
        for (index, cell) in row.iter().enumerate() {
            widths[index] = widths[index].max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let mut line = |cells: Vec<&str>| {
        let mut text = String::new();
        for (index, cell) in cells.iter().enumerate() {
            if index + 1 == cells.len() {
                text.push_str(cell);
            } else {
                text.push_str(&format!("{cell:<width$}  ", width = widths[index]));
            }
        }
        out.push_str(text.trim_end());
        out.push('\n');
    };
    if !headers.is_empty() {
        line(headers.to_vec());
    }
    for row in rows {
        line(row.iter().map(String::as_str).collect());
    }
    out.trim_end().to_owned()
}

#[cfg(test)]
mod tests {
    use super::utc;

    #[test]
    fn unix_ms_render_as_utc() {
        assert_eq!(utc(0), "1970-01-01 00:00:00");
        // 2000-02-29 (a leap day of a century leap year) 12:34:56.789
        assert_eq!(utc(951_827_696_789), "2000-02-29 12:34:56");
        assert_eq!(utc(1_795_776_980_508), "2026-11-27 10:56:20");
        assert_eq!(utc(4_102_444_800_000), "2100-01-01 00:00:00");
    }
}
