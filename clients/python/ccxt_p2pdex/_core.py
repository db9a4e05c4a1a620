"""What the sync and async p2pdex exchange classes share: the description, request signing,
error mapping and the parsing of the node's answers into CCXT's unified structures.

The node speaks exact decimal strings; so does this class where CCXT lets it (amounts and
prices are sent as the strings CCXT's `number_to_string` gives, never rounded here: a value
off the market's tick or lot is refused by the node with `InvalidOrder`, as the node's rule
is exactness). Use `amount_to_precision` and `price_to_precision` to put values on the grid.
"""

from urllib.parse import quote

from ccxt.base.decimal_to_precision import TICK_SIZE
from ccxt.base.errors import (
    AuthenticationError,
    BadRequest,
    BadSymbol,
    ExchangeError,
    ExchangeNotAvailable,
    InsufficientFunds,
    InvalidOrder,
    NotSupported,
    OrderNotFound,
    PermissionDenied,
)
from ccxt.base.precise import Precise

PROBLEM_PREFIX = "urn:p2pdex:problem:"

# The node's problem types (its RFC 7807 `type` slugs) and the CCXT exception each raises.
# Anything not listed raises ExchangeError with the node's detail.
PROBLEMS = {
    "insufficient-balance": InsufficientFunds,
    "insufficient-gas": InsufficientFunds,
    "off-tick": InvalidOrder,
    "off-lot": InvalidOrder,
    "invalid-decimal": InvalidOrder,
    "negative-value": InvalidOrder,
    "zero-value": InvalidOrder,
    "too-many-digits": InvalidOrder,
    "out-of-range": InvalidOrder,
    "amount-overflow": InvalidOrder,
    "min-fill-above-quantity": InvalidOrder,
    "lifetime-too-long": InvalidOrder,
    "invalid-client-order-id": InvalidOrder,
    "duplicate-client-order-id": InvalidOrder,
    "maker-order-cap": InvalidOrder,
    "book-full": InvalidOrder,
    "unknown-field": InvalidOrder,
    "missing-field": InvalidOrder,
    "invalid-field": InvalidOrder,
    "unknown-order": OrderNotFound,
    "unknown-client-order-id": OrderNotFound,
    "order-closed": OrderNotFound,
    "invalid-order-id": OrderNotFound,
    "missing-token": AuthenticationError,
    "invalid-token": AuthenticationError,
    "forbidden-host": PermissionDenied,
    "unknown-market": BadSymbol,
    "invalid-query": BadRequest,
    "chain-unavailable": ExchangeNotAvailable,
    "balance-unknown": ExchangeNotAvailable,
    "store-unavailable": ExchangeNotAvailable,
    "node-unavailable": ExchangeNotAvailable,
    "timeout": ExchangeNotAvailable,
    "settlement-off": NotSupported,
    "no-trader-key": NotSupported,
    "chain-not-configured": NotSupported,
}

# The node's order statuses that CCXT names otherwise. `filled` depends on the swaps.
STATUSES = {"open": "open", "cancelled": "canceled", "expired": "expired"}
# Most swaps the node answers in one page of `GET /v1/swaps`.
SWAPS_PAGE = 1000


class P2pdexCore:
    """Mixed into `ccxt.Exchange` (sync) and `ccxt.async_support.Exchange`."""

    def describe(self):
        return self.deep_extend(super().describe(), {
            "id": "p2pdex",
            "name": "p2pdex",
            "countries": [],
            "version": "v1",
            # The node is local: no rate limit to respect.
            "rateLimit": 1,
            "pro": False,
            "certified": False,
            "precisionMode": TICK_SIZE,
            "requiredCredentials": {"apiKey": True, "secret": False},
            "urls": {
                "api": {"rest": "http://127.0.0.1:7780"},
                "www": "http://127.0.0.1:7780/",
                "doc": "http://127.0.0.1:7780/v1/openapi.json",
            },
            "has": {
                "CORS": None,
                "spot": True,
                "margin": False,
                "swap": False,
                "future": False,
                "option": False,
                "cancelAllOrders": True,
                "cancelOrder": True,
                "createMarketOrder": False,
                "createOrder": True,
                "createPostOnlyOrder": False,
                "createStopOrder": False,
                "fetchBalance": True,
                "fetchClosedOrders": True,
                "fetchCurrencies": False,
                "fetchMarkets": True,
                "fetchMyTrades": True,
                "fetchOpenOrders": True,
                "fetchOrder": True,
                "fetchOrderBook": True,
                "fetchOrders": True,
                "fetchTicker": False,
                "fetchTickers": False,
                "fetchTrades": True,
            },
            "fees": {"trading": {"maker": 0, "taker": 0, "percentage": True}},
        })

    # ---- requests ----

    def api_url(self):
        """The node's URL: `urls.api` as a string, or its `rest` entry."""
        api = self.urls["api"]
        url = api if isinstance(api, str) else api["rest"]
        return url.rstrip("/")

    def sign(self, path, api="public", method="GET", params={}, headers=None, body=None):
        names = self.extract_params(path)
        # Path values percent-encoded whole: a market symbol's `/` must not split the path.
        segments = {name: quote(str(params[name]), safe="") for name in names}
        url = self.api_url() + "/" + self.implode_params(path, segments)
        rest = self.omit(params, names)
        headers = {} if headers is None else headers
        if self.apiKey:
            headers["Authorization"] = "Bearer " + self.apiKey
        if method in ("POST", "PUT"):
            body = self.json(rest)
            headers["Content-Type"] = "application/json"
        elif rest:
            url += "?" + self.urlencode(rest)
        return {"url": url, "method": method, "body": body, "headers": headers}

    def handle_errors(self, code, reason, url, method, headers, body, response, request_headers, request_body):
        if not isinstance(response, dict):
            return None
        problem_type = response.get("type")
        if not isinstance(problem_type, str) or not problem_type.startswith(PROBLEM_PREFIX):
            return None
        slug = problem_type[len(PROBLEM_PREFIX):]
        detail = response.get("detail") or response.get("title") or slug
        error = PROBLEMS.get(slug, ExchangeError)
        raise error(f"{self.id} {slug}: {detail}")

    def not_available(self, url, error):
        return ExchangeNotAvailable(
            f"{self.id} the node at {self.api_url()} does not answer ({url}): is dexd running, "
            f"and is urls.api its API address? {error}"
        )

    # ---- requests built from unified arguments ----

    @staticmethod
    def order_path(id, params):
        """The route of one own order: by `params["clientOrderId"]` if given, else by id."""
        client_order_id = params.get("clientOrderId")
        if client_order_id is not None:
            return "v1/orders/by-client-id/{clientOrderId}", {"clientOrderId": client_order_id}
        return "v1/orders/{id}", {"id": id}

    def create_order_request(self, market, type, side, amount, price, params):
        if type != "limit":
            raise InvalidOrder(
                f"{self.id} takes limit orders only: every order is a signed limit order in "
                "the network's books, and a market order has no price to sign. Give a price "
                "(with params={'timeInForce': 'IOC'} to take only what crosses it now)."
            )
        if price is None:
            raise InvalidOrder(f"{self.id} createOrder() needs a price")
        if params.get("postOnly"):
            raise InvalidOrder(f"{self.id} has no post-only orders: an order that crosses is taken")
        request = {
            "market": market["id"],
            "side": side,
            "price": self.number_to_string(price),
            "quantity": self.number_to_string(amount),
        }
        time_in_force = params.get("timeInForce")
        if time_in_force is not None:
            if time_in_force not in ("GTC", "IOC"):
                raise InvalidOrder(f"{self.id} timeInForce is GTC or IOC, not {time_in_force}")
            request["timeInForce"] = time_in_force
        for key in ("clientOrderId", "minFill", "expiresIn"):
            if params.get(key) is not None:
                request[key] = params[key]
        return request

    # ---- parsing ----

    def parse_market(self, market):
        base, quote = market["base"]["symbol"], market["quote"]["symbol"]
        min_notional = market.get("minNotional")
        return self.safe_market_structure({
            # The node accepts the symbol wherever a market is named.
            "id": market["symbol"],
            "symbol": base + "/" + quote,
            "base": base,
            "quote": quote,
            "baseId": base,
            "quoteId": quote,
            "type": "spot",
            "spot": True,
            "margin": False,
            "swap": False,
            "future": False,
            "option": False,
            "contract": False,
            "active": True,
            # No trading fees: each side pays its own swap transactions' gas on chain.
            "taker": self.parse_number("0"),
            "maker": self.parse_number("0"),
            "precision": {
                "amount": self.parse_number(market["lotSize"]),
                "price": self.parse_number(market["tickSize"]),
            },
            "limits": {
                "amount": {"min": self.parse_number(market["minQuantity"]), "max": None},
                "price": {"min": self.parse_number(market["minPrice"]), "max": None},
                "cost": {"min": self.parse_number(min_notional) if min_notional else None, "max": None},
                "leverage": {"min": None, "max": None},
            },
            "info": market,
        })

    @staticmethod
    def swaps_page_request(cursor):
        """The query of the `GET /v1/swaps` page that follows `cursor` (0: from the start)."""
        return {"changedAfter": cursor, "limit": SWAPS_PAGE}

    @staticmethod
    def take_swaps_page(swaps, page):
        """Adds a page of `GET /v1/swaps` to `swaps` (by id, each at its latest state);
        returns the cursor to ask from next, or None after the last page (a short one)."""
        for swap in page["swaps"]:
            swaps[swap["swapId"]] = swap
        return page["cursor"] if len(page["swaps"]) == SWAPS_PAGE else None

    def swaps_by_order(self, swaps):
        grouped = {}
        for swap in swaps:
            grouped.setdefault(swap["ownOrderId"], []).append(swap)
        return grouped

    def parse_order(self, order, market=None, swaps=None):
        """An own order; `swaps` (the node's swaps of it) tell what is filled: the
        quantity of its completed swaps, never quantity still in a swap under way."""
        market = self.safe_market(order.get("symbol"), market)
        swaps = swaps or []
        filled, cost = "0", "0"
        for swap in swaps:
            if swap.get("outcome") == "completed":
                filled = Precise.string_add(filled, swap["quantity"])
                cost = Precise.string_add(cost, Precise.string_mul(swap["price"], swap["quantity"]))
        under_way = any(swap["phase"] != "finished" for swap in swaps)
        status = order["status"]
        if status == "filled":
            # Remaining 0 on the node: done once its swaps are.
            status = "open" if under_way else "closed"
        else:
            status = STATUSES.get(status, status)
        amount = order["quantity"]
        timestamp = order.get("createdAt")
        return self.safe_order({
            "id": order["orderId"],
            "clientOrderId": order.get("clientOrderId"),
            "timestamp": timestamp,
            "datetime": self.iso8601(timestamp),
            "lastTradeTimestamp": None,
            "lastUpdateTimestamp": order.get("updatedAt"),
            "status": status,
            "symbol": market["symbol"],
            "type": "limit",
            "timeInForce": None,
            "postOnly": False,
            "side": order["side"],
            "price": order["price"],
            "amount": amount,
            "filled": filled,
            "remaining": Precise.string_sub(amount, filled),
            "cost": cost,
            "average": None,
            "trades": None,
            "fee": {"cost": "0", "currency": market["quote"]},
            "info": order,
        }, market)

    def parse_trade(self, trade, market=None):
        """A fill (`/v1/fills`: a completed swap of an own order) or a trade of the node
        (`/v1/markets/{market}/trades`)."""
        market = self.safe_market(trade.get("symbol"), market)
        timestamp = trade.get("at")
        fill = "fillId" in trade
        return self.safe_trade({
            "id": trade["fillId"] if fill else trade.get("swapId"),
            "order": trade.get("orderId"),
            "timestamp": timestamp,
            "datetime": self.iso8601(timestamp),
            "symbol": market["symbol"],
            "type": "limit",
            "side": trade["side"] if fill else trade.get("takerSide"),
            "takerOrMaker": trade.get("role"),
            "price": trade["price"],
            "amount": trade["quantity"],
            "cost": trade.get("cost"),
            "fee": {"cost": "0", "currency": market["quote"]},
            "info": trade,
        }, market)

    def parse_balance(self, response):
        """Per currency: `total` what the chain holds, `free` what a new order may lock,
        `used` the rest (reserved by orders, locked in swaps, kept for gas). An asset of a
        loaded market goes by its symbol; any other by `symbol:chainId`."""
        assets = {}
        for market in (self.markets or {}).values():
            for side in ("base", "quote"):
                asset = market["info"][side]
                assets[(asset["chainId"], asset["token"].lower())] = asset["symbol"]
        result = {"info": response}
        for balance in response["balances"]:
            key = (balance["chainId"], balance["token"].lower())
            code = assets.get(key, f"{balance['symbol']}:{balance['chainId']}")
            account = result.get(code) or {"free": "0", "used": "0", "total": "0"}
            total = balance["onChain"]
            free = balance["free"]
            account["free"] = Precise.string_add(account["free"], free)
            account["total"] = Precise.string_add(account["total"], total)
            account["used"] = Precise.string_add(account["used"], Precise.string_sub(total, free))
            result[code] = account
        return self.safe_balance(result)
