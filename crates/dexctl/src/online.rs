//! Subcommands that call a node's API: a table for humans, or the API's JSON with `--json`.

use std::path::Path;

use anyhow::{Context, Result};
use dex_api::types::{Book, Info, Markets, PlaceOrderRequest, SideName, TimeInForce};
use serde_json::Value;

use crate::client::{Client, encode};

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
    let json = client.get("/v1/health")?;
    let text = json["status"].as_str().unwrap_or("?").to_owned();
    Ok(Output { json, text })
}

pub(crate) fn info(client: &Client) -> Result<Output> {
    let json = client.get("/v1/info")?;
    let info: Info = serde_json::from_value(json.clone()).context("unexpected /v1/info answer")?;
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
    let json = client.get("/v1/peers")?;
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
    let json = client.get("/v1/markets")?;
    let markets: Markets =
        serde_json::from_value(json.clone()).context("unexpected /v1/markets answer")?;
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
    let json = client.get(&format!(
        "/v1/markets/{}/book?depth={depth}",
        encode(market)
    ))?;
    let book: Book = serde_json::from_value(json.clone()).context("unexpected book answer")?;
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
    client
        .get(&format!("/v1/markets/{}/trades", encode(market)))
        .map(Output::generic)
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
    };
    let body = serde_json::to_string(&request).context("encoding the order")?;
    client.post("/v1/orders", &body).map(Output::generic)
}

pub(crate) fn order_submit(client: &Client, file: &Path) -> Result<Output> {
    let body = crate::offline::read_input(file)?;
    client.post("/v1/orders/signed", &body).map(Output::generic)
}

pub(crate) fn order_cancel(client: &Client, id: &str) -> Result<Output> {
    client
        .delete(&format!("/v1/orders/{}", encode(id)))
        .map(Output::generic)
}

pub(crate) fn order_cancel_all(client: &Client, market: Option<&str>) -> Result<Output> {
    let query = market
        .map(|market| format!("?market={}", encode(market)))
        .unwrap_or_default();
    client
        .delete(&format!("/v1/orders{query}"))
        .map(Output::generic)
}

pub(crate) fn order_list(
    client: &Client,
    market: Option<&str>,
    status: Option<&str>,
) -> Result<Output> {
    let mut query = Vec::new();
    if let Some(market) = market {
        query.push(format!("market={}", encode(market)));
    }
    if let Some(status) = status {
        query.push(format!("status={}", encode(status)));
    }
    let query = if query.is_empty() {
        String::new()
    } else {
        format!("?{}", query.join("&"))
    };
    client
        .get(&format!("/v1/orders{query}"))
        .map(Output::generic)
}

pub(crate) fn order_show(client: &Client, id: &str) -> Result<Output> {
    client
        .get(&format!("/v1/orders/{}", encode(id)))
        .map(Output::generic)
}

pub(crate) fn swaps(client: &Client, id: Option<&str>) -> Result<Output> {
    let path = match id {
        Some(id) => format!("/v1/swaps/{}", encode(id)),
        None => "/v1/swaps".to_owned(),
    };
    client.get(&path).map(Output::generic)
}

pub(crate) fn balances(client: &Client) -> Result<Output> {
    client.get("/v1/balances").map(Output::generic)
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
