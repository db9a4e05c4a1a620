#!/usr/bin/env python3
"""CCXT against a devnet (scripts/client-tests.sh runs it, after the trading page test).

Node 3's CCXT instance sells, node 2's sees the ask in its order book and buys it; both see
the trade in fetch_my_trades once the swap finished, with exact amounts, and their
balances moved exactly; orders are fetched, listed and cancelled (by id and by client order
id); each mapped error is raised for its case; the asyncio class does the same reads.

usage: ccxt-test.py DEVNET_DIR
"""

import asyncio
import json
import sys
from decimal import Decimal
from pathlib import Path

import ccxt
import ccxt_p2pdex
import ccxt_p2pdex.async_support
from devnet_checks import check, gas_eth, run, wait_for

DEVNET = Path(sys.argv[1])
SYMBOL = "ETH/USDC"
SETTLE_SECS = 120


def raises(error, call, what):
    try:
        call()
    except error as raised:
        print(f"  ok  {what}: {type(raised).__name__}: {raised}")
        return
    except Exception as other:
        raise AssertionError(f"{what}: {type(other).__name__} instead of {error.__name__}: {other}")
    raise AssertionError(f"{what}: nothing raised, {error.__name__} expected")


def node(index, **config):
    data = DEVNET / f"node-{index}"
    return {
        "apiKey": (data / "api.token").read_text().strip(),
        "urls": {"api": (data / "api.url").read_text().strip()},
        **config,
    }


def exact_totals(exchange):
    """Totals as the node states them (decimal strings), per unified currency code."""
    balance = exchange.fetch_balance()
    assets = {}
    for entry in balance["info"]["balances"]:
        assets[(entry["symbol"], entry["chainId"])] = Decimal(entry["onChain"])
    return balance, assets


def main():
    chains = json.loads((DEVNET / "chains.json").read_text())
    seller = ccxt_p2pdex.p2pdex(node(3))
    buyer = ccxt_p2pdex.p2pdex(node(2))

    print("markets, precision and a clean slate")
    markets = seller.load_markets()
    market = markets[SYMBOL]
    check((market["precision"]["amount"], market["precision"]["price"]) == (0.001, 0.01),
          f"precision from lot and tick: {market['precision']}")
    check(market["limits"]["amount"]["min"] == 0.001 and market["limits"]["cost"]["min"] is None,
          "limits from the market's rules")
    amount = seller.amount_to_precision(SYMBOL, 0.0504)
    price = seller.price_to_precision(SYMBOL, 2501.004)
    check((amount, price) == ("0.05", "2501"), f"amount_to_precision and price_to_precision: {amount} at {price}")
    for exchange in (seller, buyer):
        exchange.cancel_all_orders(SYMBOL)
        check(exchange.fetch_open_orders(SYMBOL) == [], f"{exchange.urls['api']}: no open orders")

    print("node 3 sells through CCXT; node 2 sees it in its order book")
    _, before3 = exact_totals(seller)
    _, before2 = exact_totals(buyer)
    sell = seller.create_order(SYMBOL, "limit", "sell", amount, price, {"clientOrderId": "ccxt-sell-1"})
    check(sell["status"] == "open" and sell["clientOrderId"] == "ccxt-sell-1", f"created {sell['id']}")
    again = seller.create_order(SYMBOL, "limit", "sell", amount, price, {"clientOrderId": "ccxt-sell-1"})
    check(again["id"] == sell["id"], "the same clientOrderId again: the same order")
    open_orders = seller.fetch_open_orders(SYMBOL)
    check([o["id"] for o in open_orders] == [sell["id"]], "fetch_open_orders shows it")
    check((open_orders[0]["amount"], open_orders[0]["price"], open_orders[0]["filled"]) == (0.05, 2501.0, 0.0),
          "with its amount, price and nothing filled")
    book = wait_for("the ask in node 2's order book",
                    lambda: buyer.fetch_order_book(SYMBOL)["asks"] or None, 30)
    check(book[0][:2] == [2501.0, 0.05], f"node 2's fetch_order_book: {book[0]}")

    print("node 2 buys it through CCXT")
    buy = buyer.create_order(SYMBOL, "limit", "buy", amount, price,
                             {"timeInForce": "IOC", "clientOrderId": "ccxt-buy-1"})
    # (The page test before traded on these nodes too: only this order's trades count.)
    trades = {}
    for name, exchange, order in (("seller", seller, sell), ("buyer", buyer, buy)):
        trades[name] = wait_for(
            f"the {name}'s trade",
            lambda e=exchange, o=order: [t for t in e.fetch_my_trades(SYMBOL) if t["order"] == o["id"]] or None,
            SETTLE_SECS)
    for name, side, role in (("seller", "sell", "maker"), ("buyer", "buy", "taker")):
        trade = trades[name][0]
        info = trade["info"]
        check(len(trades[name]) == 1 and trade["side"] == side and trade["takerOrMaker"] == role,
              f"{name}: one trade of its order, {side} as {role}")
        check((info["price"], info["quantity"], info["cost"]) == ("2501", "0.05", "125.05"),
              f"{name}: exact price, amount and cost {info['price']} × {info['quantity']} = {info['cost']}")
        check(trade["id"] == trades["seller"][0]["id"], f"{name}: the same swap settled both sides")
    closed = seller.fetch_order(sell["id"], SYMBOL)
    check((closed["status"], closed["filled"], closed["remaining"]) == ("closed", 0.05, 0.0),
          "node 3's order is closed and filled")
    by_client = buyer.fetch_order(None, SYMBOL, {"clientOrderId": "ccxt-buy-1"})
    check(by_client["id"] == buy["id"] and by_client["status"] == "closed", "node 2's order found by clientOrderId")
    check(sell["id"] in [o["id"] for o in seller.fetch_closed_orders(SYMBOL)], "fetch_closed_orders lists it")
    # Filled quantities come from the order's swaps, which the class reads page by page.
    listed = [o for o in seller.fetch_orders(SYMBOL) if o["id"] == sell["id"]]
    check([(o["status"], o["filled"]) for o in listed] == [("closed", 0.05)], "fetch_orders shows it filled")

    print("balances moved by exactly the traded amounts")
    swap = seller.request("v1/swaps/{id}", "private", "GET", {"id": trades["seller"][0]["id"]})
    txs = {step["step"]: step["txHash"] for step in swap["steps"]}
    base_rpc = chains["base"]["rpcUrl"]
    cost, qty = Decimal("125.05"), Decimal("0.05")
    wait_for("node 3's balances", lambda: exact_totals(seller)[1] != before3 or None)
    expected3 = {("ETH", 31337): before3[("ETH", 31337)] - qty - gas_eth(base_rpc, txs["makerLock"])[0],
                 ("USDC", 31338): before3[("USDC", 31338)] + cost}
    expected2 = {("ETH", 31337): before2[("ETH", 31337)] + qty - gas_eth(base_rpc, txs["takerClaim"])[0],
                 ("USDC", 31338): before2[("USDC", 31338)] - cost}
    for name, exchange, expected in (("node 3", seller, expected3), ("node 2", buyer, expected2)):
        for key, value in expected.items():
            wait_for(f"{name}: {key}", lambda e=exchange, k=key, v=value: exact_totals(e)[1][k] == v or None, 60)
            print(f"  ok  {name}: {key[0]} on {key[1]} is {value}")
        balance = exchange.fetch_balance()
        check(set(balance["total"]) >= {"ETH", "USDC"}, f"{name}: fetch_balance has ETH and USDC")

    print("cancel_order, by id and by clientOrderId")
    resting = seller.create_order(SYMBOL, "limit", "sell", "0.01", "2700")
    cancelled = seller.cancel_order(resting["id"], SYMBOL)
    check(cancelled["status"] == "canceled", "cancel_order")
    check(seller.fetch_order(resting["id"], SYMBOL)["status"] == "canceled", "fetch_order shows it canceled")
    named = seller.create_order(SYMBOL, "limit", "sell", "0.01", "2710", {"clientOrderId": "ccxt-c"})
    seller.cancel_order(None, SYMBOL, {"clientOrderId": "ccxt-c"})
    check(seller.fetch_order(named["id"], SYMBOL)["status"] == "canceled", "cancel_order by clientOrderId")

    print("each mapped error for its case")
    raises(ccxt.InsufficientFunds, lambda: buyer.create_order(SYMBOL, "limit", "buy", "10000", "2500"),
           "buying more than the free balance")
    raises(ccxt.InvalidOrder, lambda: buyer.create_order(SYMBOL, "limit", "buy", "0.0005", "2500"),
           "an amount off the lot (not rounded)")
    raises(ccxt.InvalidOrder, lambda: buyer.create_order(SYMBOL, "market", "buy", "0.01"),
           "a market order")
    raises(ccxt.InvalidOrder, lambda: seller.create_order(SYMBOL, "limit", "sell", "0.02", "2501",
                                                          {"clientOrderId": "ccxt-sell-1"}),
           "a clientOrderId reused for another order")
    raises(ccxt.OrderNotFound, lambda: seller.fetch_order("0x" + "00" * 32, SYMBOL), "an unknown order")
    raises(ccxt.OrderNotFound, lambda: seller.cancel_order(resting["id"], SYMBOL), "cancelling a closed order")
    raises(ccxt.AuthenticationError,
           lambda: ccxt_p2pdex.p2pdex(node(2, apiKey="0" * 64)).fetch_balance(), "a wrong API token")
    raises(ccxt.BadSymbol, lambda: seller.fetch_order_book("BTC/USDC"), "an unknown market")
    raises(ccxt.ExchangeNotAvailable,
           lambda: ccxt_p2pdex.p2pdex(node(2, urls={"api": "http://127.0.0.1:1"})).fetch_markets(),
           "a node that does not answer")

    print("the asyncio class")

    async def reads():
        exchange = ccxt_p2pdex.async_support.p2pdex(node(2))
        try:
            await exchange.load_markets()
            book = await exchange.fetch_order_book(SYMBOL)
            trades = await exchange.fetch_my_trades(SYMBOL)
            balance = await exchange.fetch_balance()
            orders = await exchange.fetch_orders(SYMBOL)
            return book, trades, balance, orders
        finally:
            await exchange.close()

    book, async_trades, balance, async_orders = asyncio.run(reads())
    check(trades["buyer"][0]["id"] in [t["id"] for t in async_trades], "async fetch_my_trades")
    check([(o["status"], o["filled"]) for o in async_orders if o["id"] == buy["id"]] == [("closed", 0.05)],
          "async fetch_orders shows node 2's order filled")
    check(book["symbol"] == SYMBOL and "USDC" in balance["total"], "async fetch_order_book and fetch_balance")
    print("ccxt: all checks passed")


if __name__ == "__main__":
    run(main)
