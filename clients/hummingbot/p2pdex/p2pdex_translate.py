"""Everything the p2pdex connector knows about the node's JSON, as pure functions.

The node (DESIGN §9) speaks camelCase JSON with exact decimal strings; Hummingbot speaks
trading pairs (`ETH-USDC`), `Decimal`s, order states and trade updates. Each function here
takes the node's answer (already parsed from JSON) and returns plain dicts, tuples and
`Decimal`s that the Hummingbot-facing classes turn into Hummingbot's types. This module
imports nothing from Hummingbot, reads no clock and does no I/O, so it is tested on its own
against answers recorded from a real node.

Order states are names of Hummingbot's `OrderState` members (`"OPEN"`, `"FILLED"`...).
"""

import json
import re
from decimal import Decimal

PROBLEM_PREFIX = "urn:p2pdex:problem:"

# What the node's problem types (RFC 7807 `type` slugs) mean to the connector.
# A slug not listed is an "exchange-error".
PROBLEM_KINDS = {
    "unknown-order": "order-not-found",
    "unknown-client-order-id": "order-not-found",
    "invalid-order-id": "order-not-found",
    "order-closed": "order-closed",
    "insufficient-balance": "insufficient-funds",
    "insufficient-gas": "insufficient-funds",
    "off-tick": "invalid-order",
    "off-lot": "invalid-order",
    "invalid-decimal": "invalid-order",
    "negative-value": "invalid-order",
    "zero-value": "invalid-order",
    "too-many-digits": "invalid-order",
    "out-of-range": "invalid-order",
    "amount-overflow": "invalid-order",
    "min-fill-above-quantity": "invalid-order",
    "lifetime-too-long": "invalid-order",
    "invalid-client-order-id": "invalid-order",
    "duplicate-client-order-id": "invalid-order",
    "maker-order-cap": "invalid-order",
    "book-full": "invalid-order",
    "unknown-field": "invalid-order",
    "missing-field": "invalid-order",
    "invalid-field": "invalid-order",
    "missing-token": "authentication",
    "invalid-token": "authentication",
    "forbidden-host": "authentication",
    "unknown-market": "unknown-market",
    "invalid-query": "bad-request",
    "chain-unavailable": "unavailable",
    "balance-unknown": "unavailable",
    "store-unavailable": "unavailable",
    "node-unavailable": "unavailable",
    "timeout": "unavailable",
    "settlement-off": "not-supported",
    "no-trader-key": "not-supported",
    "chain-not-configured": "not-supported",
}

CLIENT_ORDER_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")


# ---- URLs and names ----

def rest_url(api_url, path):
    """The URL of `path` (`/v1/markets`) on the node at `api_url` (`http://127.0.0.1:7780`)."""
    return api_url.rstrip("/") + path


def ws_url(api_url):
    """The node's WebSocket URL: `api_url` with `ws`/`wss` for `http`/`https`, path `/v1/ws`."""
    base = api_url.rstrip("/")
    if base.startswith("https://"):
        return "wss://" + base[len("https://"):] + "/v1/ws"
    if base.startswith("http://"):
        return "ws://" + base[len("http://"):] + "/v1/ws"
    raise ValueError(f"the node's API URL must start with http:// or https://, not {api_url!r}")


def path_segment(value):
    """`value` percent-encoded as one path segment (`ETH/USDC` → `ETH%2FUSDC`): everything
    but RFC 3986's unreserved characters, as the node's own clients do."""
    unreserved = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~")
    return "".join(chr(b) if chr(b) in unreserved else f"%{b:02X}" for b in value.encode())


def trading_pair(symbol):
    """Hummingbot's name of the market the node calls `BASE/QUOTE`: `BASE-QUOTE`."""
    base, quote = symbol.split("/")
    return f"{base}-{quote}"


def exchange_symbol(pair):
    """The node's name (`ETH/USDC`) of a Hummingbot trading pair (`ETH-USDC`)."""
    base, quote = pair.split("-")
    return f"{base}/{quote}"


def decimal_string(value):
    """A `Decimal` as the plain decimal string the node parses (`Decimal("1E+1")` → `"10"`,
    `Decimal("0.0100")` → `"0.01"`): no exponent, no trailing zeros."""
    return format(value.normalize(), "f")


# ---- markets ----

def trading_pair_symbols(markets):
    """`{node symbol: trading pair}` of every market of `GET /v1/markets`."""
    return {market["symbol"]: trading_pair(market["symbol"]) for market in markets["markets"]}


def trading_rule(market):
    """Hummingbot's `TradingRule` fields of one market of `GET /v1/markets`: quantities step
    by the lot, prices by the tick, a quote amount by one lot at one tick; the smallest
    order is `minQuantity` (one lot), the smallest value `minNotional` (0 when the node has
    no such rule)."""
    lot = Decimal(market["lotSize"])
    tick = Decimal(market["tickSize"])
    min_notional = market.get("minNotional")
    return {
        "trading_pair": trading_pair(market["symbol"]),
        "min_order_size": Decimal(market["minQuantity"]),
        "min_price_increment": tick,
        "min_base_amount_increment": lot,
        "min_quote_amount_increment": lot * tick,
        "min_notional_size": Decimal(min_notional) if min_notional is not None else Decimal(0),
    }


def trading_rules(markets):
    """The trading rule of every market of `GET /v1/markets`."""
    return [trading_rule(market) for market in markets["markets"]]


# ---- order books ----

def book_rows(levels):
    """Levels (`{price, quantity, orders}`) as `(price, quantity)` rows of `Decimal`s; a
    quantity of 0 (in a delta) tells Hummingbot the level is gone, as it tells the node's
    clients."""
    return [(Decimal(level["price"]), Decimal(level["quantity"])) for level in levels]


def book_snapshot(book, update_id):
    """A snapshot message's content from `GET /v1/markets/{market}/book`. The REST book has
    no sequence number: `update_id` is the caller's (the last stream seq it saw, so the
    stream's next delta still applies)."""
    return {
        "trading_pair": trading_pair(book["symbol"]),
        "update_id": update_id,
        "bids": book_rows(book["bids"]),
        "asks": book_rows(book["asks"]),
    }


def book_channel(pair):
    """The WebSocket channel of a trading pair's book: `book:ETH/USDC`."""
    return "book:" + exchange_symbol(pair)


def channel_trading_pair(channel):
    """The trading pair of a `book:<symbol>` channel."""
    return trading_pair(channel.split(":", 1)[1])


def book_message(message):
    """A `snapshot` or `delta` of a book channel as `(kind, content)`: kind `"snapshot"` or
    `"diff"`, content an order book message's content whose `update_id` is the stream's
    seq. A delta's rows hold each changed level's new absolute quantity (0: gone)."""
    kinds = {"snapshot": "snapshot", "delta": "diff"}
    kind = kinds.get(message.get("type"))
    if kind is None:
        raise ValueError(f"not a book snapshot or delta: {message.get('type')!r}")
    return kind, {
        "trading_pair": channel_trading_pair(message["channel"]),
        "update_id": message["seq"],
        "bids": book_rows(message["bids"]),
        "asks": book_rows(message["asks"]),
    }


def seq_verdict(last_seq, message):
    """Whether a book message continues its channel: `"snapshot"` (starts it over),
    `"next"` (a delta with `last_seq + 1`) or `"gap"` (a delta after a missed one, or before
    any snapshot): after a gap the book is unknown and the channel must be subscribed
    again."""
    if message["type"] == "snapshot":
        return "snapshot"
    if last_seq is not None and message["seq"] == last_seq + 1:
        return "next"
    return "gap"


def mid_price(book):
    """The mid of the best bid and ask of `GET /v1/markets/{market}/book`; the best of
    either side when only one has levels; None for an empty book. (The node reports only
    trades it took part in, so the book is what tells the market's price.)"""
    bids = [Decimal(level["price"]) for level in book["bids"][:1]]
    asks = [Decimal(level["price"]) for level in book["asks"][:1]]
    best = bids + asks
    if not best:
        return None
    return sum(best) / len(best)


# ---- orders ----

def place_order_request(client_order_id, pair, is_buy, amount, price):
    """The body of `POST /v1/orders` for a Hummingbot limit order (good till cancelled).
    Refuses a client order id the node would refuse (1 to 64 of `A-Z a-z 0-9 . _ - :`)."""
    if not CLIENT_ORDER_ID.fullmatch(client_order_id):
        raise ValueError(
            f"client order id {client_order_id!r}: the node takes 1 to 64 characters of "
            "A-Z a-z 0-9 . _ - :"
        )
    return {
        "market": exchange_symbol(pair),
        "side": "buy" if is_buy else "sell",
        "price": decimal_string(price),
        "quantity": decimal_string(amount),
        "timeInForce": "GTC",
        "clientOrderId": client_order_id,
    }


def placed_order(order):
    """`(exchange order id, creation time in seconds)` of a placement's answer."""
    return order["orderId"], order["createdAt"] / 1000


def own_order_path(client_order_id):
    """The route of an own order by its client order id (read with GET, cancel with DELETE)."""
    return "/v1/orders/by-client-id/" + path_segment(client_order_id)


def filled_quantity(swaps):
    """What the swaps of an order filled: the quantity of those that completed. Quantity in
    a swap under way is not filled (it may still be refunded)."""
    return sum((Decimal(swap["quantity"]) for swap in swaps if swap.get("outcome") == "completed"),
               Decimal(0))


def order_state(status, quantity, filled, under_way):
    """Hummingbot's state of an own order from the node's `status`, its quantity, what its
    completed swaps filled and whether a swap of it is under way.

    The node's `filled` means nothing remains to offer; the order is done only once its
    swaps are. A done order that filled less than its quantity (swaps refunded) is
    cancelled: the rest will not trade. Likewise a cancelled or expired order stays open
    while a swap of it may still complete."""
    progress = "PARTIALLY_FILLED" if filled > 0 else "OPEN"
    if status == "open" or under_way:
        return progress
    if status == "filled":
        return "FILLED" if filled == quantity else "CANCELED"
    if status in ("cancelled", "expired"):
        return "CANCELED"
    raise ValueError(f"unknown order status {status!r}")


def order_update(detail):
    """An order update's fields from `GET /v1/orders/by-client-id/{clientOrderId}` (the
    order and its swaps)."""
    order = detail["order"]
    swaps = detail["swaps"]
    filled = filled_quantity(swaps)
    under_way = any(swap["phase"] != "finished" for swap in swaps)
    return {
        "client_order_id": order.get("clientOrderId"),
        "exchange_order_id": order["orderId"],
        "trading_pair": trading_pair(order["symbol"]),
        "update_timestamp": order["updatedAt"] / 1000,
        "new_state": order_state(order["status"], Decimal(order["quantity"]), filled, under_way),
        "filled": filled,
    }


def trade_update(fill):
    """A trade update's fields from one fill of `GET /v1/fills` (a completed swap). No fee:
    each side pays only its own swap transactions' gas, on chain."""
    return {
        "trade_id": fill["fillId"],
        "client_order_id": fill.get("clientOrderId"),
        "exchange_order_id": fill["orderId"],
        "trading_pair": trading_pair(fill["symbol"]),
        "is_buy": fill["side"] == "buy",
        "is_maker": fill["role"] == "maker",
        "fill_price": Decimal(fill["price"]),
        "fill_base_amount": Decimal(fill["quantity"]),
        "fill_quote_amount": Decimal(fill["cost"]),
        "fill_timestamp": fill["at"] / 1000,
    }


def trade_updates(fills, client_order_id):
    """The trade updates of one order (by client order id) from `GET /v1/fills`, oldest
    first."""
    mine = [fill for fill in fills["fills"] if fill.get("clientOrderId") == client_order_id]
    return [trade_update(fill) for fill in sorted(mine, key=lambda fill: fill["at"])]


def user_event_order(message):
    """Which own order a message of the `orders` or `swaps` channel is about, as
    `("client_order_id", id)` or `("exchange_order_id", id)`; None for other messages
    (snapshots, `subscribed`, `authenticated`). The connector then reads that order's
    state and fills from the node: an `order` message carries no swaps, and only swaps tell
    what is filled."""
    if message.get("type") == "order":
        order = message["order"]
        if order.get("clientOrderId") is not None:
            return "client_order_id", order["clientOrderId"]
        return "exchange_order_id", order["orderId"]
    if message.get("type") == "swap":
        return "exchange_order_id", message["swap"]["ownOrderId"]
    return None


# ---- balances ----

def market_assets(markets):
    """`{(chainId, token): symbol}` of the assets of the markets of `GET /v1/markets`."""
    assets = {}
    for market in markets["markets"]:
        for side in ("base", "quote"):
            asset = market[side]
            assets[(asset["chainId"], asset["token"].lower())] = asset["symbol"]
    return assets


def balances(answer, markets):
    """`{asset: (available, total)}` from `GET /v1/balances`: available what a new order may
    lock (`free`), total what the chain holds (`onChain`), summed over the node's trader
    keys. An asset of a market goes by its symbol, any other by `symbol:chainId` (a chain's
    native coin that no market trades)."""
    assets = market_assets(markets)
    result = {}
    for balance in answer["balances"]:
        key = (balance["chainId"], balance["token"].lower())
        name = assets.get(key, f"{balance['symbol']}:{balance['chainId']}")
        available, total = result.get(name, (Decimal(0), Decimal(0)))
        result[name] = (available + Decimal(balance["free"]), total + Decimal(balance["onChain"]))
    return result


# ---- problems ----

def problem_slug(problem):
    """The slug of a problem body's `type` (`unknown-client-order-id`); None if it is not
    one of the node's problems."""
    problem_type = problem.get("type") if isinstance(problem, dict) else None
    if not isinstance(problem_type, str) or not problem_type.startswith(PROBLEM_PREFIX):
        return None
    return problem_type[len(PROBLEM_PREFIX):]


def problem_kind(problem):
    """What a problem body means to the connector: `order-not-found`, `order-closed`,
    `insufficient-funds`, `invalid-order`, `authentication`, `unknown-market`,
    `bad-request`, `unavailable`, `not-supported` or `exchange-error`."""
    return PROBLEM_KINDS.get(problem_slug(problem), "exchange-error")


def problem_in_error(text):
    """The problem body inside an error's text (Hummingbot's REST errors end with
    `Error: <the answer's body>`); None if there is none."""
    start = text.find('{"type"')
    if start < 0:
        return None
    try:
        problem, _ = json.JSONDecoder().raw_decode(text, start)
    except ValueError:
        return None
    return problem if problem_slug(problem) is not None else None


def is_order_not_found(text):
    """Whether an error's text carries a problem saying the node has no such order."""
    problem = problem_in_error(text)
    return problem is not None and problem_kind(problem) == "order-not-found"
