"""The p2pdex exchange class for CCXT (asyncio, `ccxt.async_support`): a p2pdex node's HTTP API as a CCXT exchange.

    import ccxt_p2pdex.async_support
    exchange = ccxt_p2pdex.async_support.p2pdex({
        "apiKey": open("/path/to/data-dir/api.token").read().strip(),
        "urls": {"api": "http://127.0.0.1:7780"},
    })
    await exchange.create_order("ETH/USDC", "limit", "sell", 0.05, 2501)
    await exchange.close()
"""

import ccxt.async_support
from ccxt.base.errors import ExchangeNotAvailable, NetworkError, RequestTimeout

from .._core import P2pdexCore


class p2pdex(P2pdexCore, ccxt.async_support.Exchange):  # noqa: N801 (CCXT names exchanges in lowercase)
    async def fetch(self, url, method="GET", headers=None, body=None):
        try:
            return await super().fetch(url, method, headers, body)
        except (RequestTimeout, ExchangeNotAvailable):
            raise
        except NetworkError as error:
            raise self.not_available(url, error) from error

    async def fetch_markets(self, params={}):
        response = await self.request("v1/markets", "public", "GET", params)
        return [self.parse_market(market) for market in response["markets"]]

    async def fetch_order_book(self, symbol, limit=None, params={}):
        await self.load_markets()
        market = self.market(symbol)
        request = {"market": market["id"], **({"depth": limit} if limit else {}), **params}
        response = await self.request("v1/markets/{market}/book", "public", "GET", request)
        return self.parse_order_book(response, market["symbol"], None, "bids", "asks", "price", "quantity")

    async def fetch_trades(self, symbol, since=None, limit=None, params={}):
        """The trades this node took part in (a node sees no one else's trades)."""
        await self.load_markets()
        market = self.market(symbol)
        request = {"market": market["id"], **({"limit": limit} if limit else {}), **params}
        response = await self.request("v1/markets/{market}/trades", "private", "GET", request)
        trades = [self.parse_trade(trade, market) for trade in response["trades"]]
        return self.filter_by_symbol_since_limit(trades, market["symbol"], since, limit)

    async def fetch_balance(self, params={}):
        await self.load_markets()
        return self.parse_balance(await self.request("v1/balances", "private", "GET", params))

    async def create_order(self, symbol, type, side, amount, price=None, params={}):
        await self.load_markets()
        market = self.market(symbol)
        request = self.create_order_request(market, type, side, amount, price, params)
        response = await self.request("v1/orders", "private", "POST", request)
        return self.parse_order(response, market)

    async def cancel_order(self, id, symbol=None, params={}):
        path, request = self.order_path(id, params)
        response = await self.request(path, "private", "DELETE", request)
        return self.safe_order({"id": response["orderId"], "clientOrderId": params.get("clientOrderId"),
                                "status": "canceled", "symbol": symbol, "info": response})

    async def cancel_all_orders(self, symbol=None, params={}):
        await self.load_markets()
        request = {"market": self.market(symbol)["id"]} if symbol is not None else {}
        response = await self.request("v1/orders", "private", "DELETE", {**request, **params})
        return [self.safe_order({"id": id, "status": "canceled", "symbol": symbol, "info": id})
                for id in response["cancelled"]]

    async def fetch_order(self, id, symbol=None, params={}):
        await self.load_markets()
        path, request = self.order_path(id, params)
        response = await self.request(path, "private", "GET", request)
        return self.parse_order(response["order"], None, response["swaps"])

    async def fetch_orders(self, symbol=None, since=None, limit=None, params={}):
        await self.load_markets()
        request = {"market": self.market(symbol)["id"]} if symbol is not None else {}
        orders = (await self.request("v1/orders", "private", "GET", {**request, **params}))["orders"]
        swaps = self.swaps_by_order(await self.all_swaps())
        parsed = [self.parse_order(order, None, swaps.get(order["orderId"])) for order in orders]
        return self.filter_by_symbol_since_limit(parsed, symbol, since, limit)

    async def all_swaps(self):
        """Every swap of the node. The node answers a page at a time: read from the start of
        its list of swap changes until a page comes back short."""
        swaps, cursor = {}, 0
        while cursor is not None:
            page = await self.request("v1/swaps", "private", "GET", self.swaps_page_request(cursor))
            cursor = self.take_swaps_page(swaps, page)
        return list(swaps.values())

    async def fetch_open_orders(self, symbol=None, since=None, limit=None, params={}):
        return [order for order in await self.fetch_orders(symbol, since, None, params)
                if order["status"] == "open"][:limit]

    async def fetch_closed_orders(self, symbol=None, since=None, limit=None, params={}):
        return [order for order in await self.fetch_orders(symbol, since, None, params)
                if order["status"] != "open"][:limit]

    async def fetch_my_trades(self, symbol=None, since=None, limit=None, params={}):
        await self.load_markets()
        market = self.market(symbol) if symbol is not None else None
        request = {**({"market": market["id"]} if market else {}), **({"limit": limit} if limit else {}), **params}
        response = await self.request("v1/fills", "private", "GET", request)
        trades = [self.parse_trade(fill, market) for fill in response["fills"]]
        return self.filter_by_symbol_since_limit(trades, symbol, since, limit)
