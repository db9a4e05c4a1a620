#!/usr/bin/env python3
"""The trading page in a real browser (scripts/client-tests.sh runs it).

Against a running devnet (dex-devnet up --no-market-maker, 3 nodes), in Debian's Chromium
driven by Playwright: node 3's page (opened from the link `dexctl ui` prints) sells through
its form; node 2's page (token typed into its dialog) sees the ask in its book and buys it
through its form, by keyboard; both pages follow the swap to `finished`, every step with the
transaction the chain holds, and show balances that moved by exactly the traded amounts
(native coins net of the gas of the swap's own transactions, read from their receipts). A
refused input shows the API's own detail; cancel and cancel-all work; reloading loses
nothing; a page without the token cannot trade; no console error, no request to any other
origin; the first load is under 300 KB; a narrow window has no sideways scroll.

Prints the figures and writes them (results.json) and screenshots to the artifacts dir.
Exits 1 on the first failed check.

usage: trading-page-test.py DEVNET_DIR ARTIFACTS_DIR DEXCTL CHROMIUM
"""

import json
import re
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from decimal import Decimal
from pathlib import Path

from devnet_checks import check, gas_eth, ok
from devnet_checks import run as run_checked
from playwright.sync_api import expect, sync_playwright

DEVNET, ARTIFACTS, DEXCTL, CHROMIUM = (Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3], sys.argv[4])
ARTIFACTS.mkdir(parents=True, exist_ok=True)
# What the nodes need at most to see, settle and read back a trade on the devnet.
SETTLE_MS = 120_000
PRICE, QUANTITY = "2501", "0.05"
CHROMIUM_ARGS = [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-default-apps", "--disable-extensions",
]


class Node:
    def __init__(self, index):
        self.index = index
        self.dir = DEVNET / f"node-{index}"
        self.url = (self.dir / "api.url").read_text().strip()
        self.token = (self.dir / "api.token").read_text().strip()

    def call(self, method, path, body=None, token=True):
        request = urllib.request.Request(self.url + path, method=method)
        if token:
            request.add_header("Authorization", f"Bearer {self.token}")
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, data, timeout=30) as response:
                return response.status, json.loads(response.read() or b"null")
        except urllib.error.HTTPError as err:
            return err.code, json.loads(err.read() or b"null")


# Every page opened, for screenshots when a check fails.
PAGES = []


# Chromium logs every HTTP answer of 400 or more to the console as an error, also those the
# page asked for and handled. The test provokes some refusals on purpose and counts their
# lines apart, per status; any other console error fails it.
REFUSAL = re.compile(r"^Failed to load resource: the server responded with a status of (\d{3}) ")


class Watched:
    """A page with its console errors and every address it asked for."""

    def __init__(self, context, node, name):
        self.node, self.name = node, name
        self.page = context.new_page()
        PAGES.append(self)
        self.errors, self.urls, self.finished = [], [], []
        self.refusals = {}
        self.page.on("console", lambda m: m.type == "error" and self.console_error(m.text))
        self.page.on("pageerror", lambda e: self.errors.append(f"uncaught: {e}"))
        self.page.on("request", lambda r: self.urls.append(r.url))
        self.page.on("websocket", lambda ws: self.urls.append(ws.url))
        self.page.on("requestfinished", lambda r: self.finished.append(r))

    def console_error(self, text):
        refusal = REFUSAL.match(text)
        if refusal:
            status = int(refusal.group(1))
            self.refusals[status] = self.refusals.get(status, 0) + 1
        else:
            self.errors.append(text)

    def open(self, url):
        self.page.goto(url)
        self.wait_live()

    def wait_live(self):
        expect(self.page.locator("#live")).to_have_attribute("data-state", "live", timeout=30_000)

    def balance(self, chain, symbol, field="onChain"):
        cell = self.page.locator(f'#balances tr[data-chain="{chain}"][data-symbol="{symbol}"] td[data-field="{field}"]')
        expect(cell).not_to_have_text("not read yet", timeout=30_000)
        return Decimal(cell.inner_text())

    def wait_balance(self, chain, symbol, expected):
        deadline = time.monotonic() + 60
        while True:
            value = self.balance(chain, symbol)
            if value == expected:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.name}: {symbol} on {chain} shows {value}, expected {expected}")
            self.page.wait_for_timeout(250)

    def result(self):
        return self.page.locator("#order-result")

    def place(self, side, price, quantity, tif="GTC"):
        page = self.page
        page.check(f'input[name="side"][value="{side}"]')
        page.fill("#price", price)
        page.fill("#quantity", quantity)
        page.select_option("#tif", tif)
        page.click("#place")


def main():
    figures = {}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            run(browser, figures)
        except Exception:
            for watched in PAGES:
                name = watched.name.replace(" ", "-")
                watched.page.screenshot(path=str(ARTIFACTS / f"failed-{name}.png"), full_page=True)
                print(f"{watched.name}: console errors {watched.errors}, refusals {watched.refusals}",
                      file=sys.stderr)
            print(f"screenshots of the pages as they were: {ARTIFACTS}/failed-*.png", file=sys.stderr)
            raise
        finally:
            browser.close()
    (ARTIFACTS / "results.json").write_text(json.dumps(figures, indent=2) + "\n")
    print("figures: " + ", ".join(f"{k} {v}" for k, v in figures.items()))
    print(f"screenshots and results.json in {ARTIFACTS}")


def run(browser, figures):
    node2, node3 = Node(2), Node(3)
    chains = json.loads((DEVNET / "chains.json").read_text())
    base, quote = chains["base"], chains["quote"]
    print("node 3's page, opened from `dexctl ui`'s link")
    link = subprocess.run(
        [DEXCTL, "--data-dir", str(node3.dir), "ui"], check=True, capture_output=True, text=True
    ).stdout.strip()
    check(link == f"{node3.url}/#token={node3.token}", "dexctl ui prints the page with the token in the fragment")
    check(f"node 3: {link}" in (DEVNET / "devnet.out").read_text(), "the devnet printed the same link")
    seller = Watched(browser.new_context(viewport={"width": 1400, "height": 1000}), node3, "node 3")
    seller.open(link)
    check("token" not in seller.page.url, "the token left the address bar")
    check(not seller.page.locator("#login").is_visible(), "no token dialog when the link carried it")
    eth3, usdc3 = seller.balance(base["chainId"], "ETH"), seller.balance(quote["chainId"], "USDC")
    seller.page.wait_for_load_state("networkidle")
    first_load = sum(
        (r.sizes()["responseBodySize"] + r.sizes()["responseHeadersSize"]) for r in seller.finished
    )
    figures["first_load_bytes"] = first_load
    figures["first_load_requests"] = len(seller.finished)
    check(first_load < 300 * 1024, f"first load: {first_load} bytes in {len(seller.finished)} requests (< 300 KB)")

    print("node 2's page, token typed into its dialog")
    buyer = Watched(browser.new_context(viewport={"width": 1400, "height": 1000}), node2, "node 2")
    buyer.page.goto(node2.url + "/")
    expect(buyer.page.locator("#login")).to_be_visible()
    buyer.page.fill("#token", "not-the-token")
    buyer.page.click("#login-save")
    expect(buyer.page.locator("#login-error")).to_have_text("The node refused this token.")
    buyer.page.fill("#token", node2.token)
    buyer.page.click("#login-save")
    expect(buyer.page.locator("#login")).to_be_hidden()
    buyer.wait_live()
    eth2, usdc2 = buyer.balance(base["chainId"], "ETH"), buyer.balance(quote["chainId"], "USDC")

    print("a page without the token cannot trade")
    guest = Watched(browser.new_context(), node2, "guest")
    guest.open(node2.url + "/")
    expect(guest.page.locator("#login")).to_be_visible()
    guest.page.click("#login-skip")
    expect(guest.page.locator("#place")).to_be_disabled()
    check(guest.page.locator("#balances tbody tr").count() == 0, "no balances without the token")
    expect(guest.page.locator("#spread")).to_have_text("empty book")
    ok("the public book is there without it (rendered from its snapshot)")

    print("refused inputs show what the API says")
    body = {"market": "ETH/USDC", "side": "sell", "price": "2501.001", "quantity": QUANTITY}
    status, problem = node3.call("POST", "/v1/orders", body)
    check(status == 422 and problem["type"].endswith(":off-tick"), "the API refuses an off-tick price")
    seller.place("sell", "2501.001", QUANTITY)
    expect(seller.result()).to_have_text(problem["detail"])
    ok(f"the page says it before sending, in the API's words: {problem['detail']!r}")
    body = {"market": "ETH/USDC", "side": "sell", "price": PRICE, "quantity": "20000", "timeInForce": "GTC"}
    status, problem = node3.call("POST", "/v1/orders", body)
    check(status == 422 and problem["type"].endswith(":insufficient-balance"), "the API refuses 20000 ETH")
    seller.place("sell", PRICE, "20000")
    expect(seller.result()).to_have_text(f"{problem['title']}: {problem['detail']}")
    ok("the page shows the API's title and detail of a refusal it cannot foresee")

    print("cancel and cancel-all on node 3's page")
    seller.place("sell", "2600", "0.01")
    row = seller.page.locator("#orders tbody tr")
    expect(row).to_have_count(1)
    order_id = row.get_attribute("data-order")
    row.locator("button").click()
    expect(row).to_have_count(0)
    status, detail = node3.call("GET", f"/v1/orders/{order_id}")
    check(detail["order"]["status"] == "cancelled", "Cancel cancelled the order on the node")
    seller.place("sell", "2600", "0.01")
    expect(seller.result()).to_contain_text("Placed")
    seller.place("sell", "2610", "0.01")
    expect(row).to_have_count(2)
    seller.page.click("#cancel-all")
    expect(row).to_have_count(0)
    status, orders = node3.call("GET", "/v1/orders?status=open")
    check(orders["orders"] == [], "Cancel all left no open order on the node")

    print(f"node 3 sells {QUANTITY} ETH at {PRICE} through its form")
    started = time.monotonic()
    seller.place("sell", PRICE, QUANTITY)
    expect(seller.result()).to_contain_text(f"Placed sell {QUANTITY} at {PRICE}: open")
    level = buyer.page.locator(f'#asks tr[data-price="{PRICE}"]')
    expect(level).to_be_visible(timeout=30_000)
    figures["placed_to_other_page_ms"] = round((time.monotonic() - started) * 1000, 1)
    expect(level.locator("td").nth(1)).to_have_text(QUANTITY)
    ok(f"node 2's page shows the ask {figures['placed_to_other_page_ms']} ms after the click")

    print("node 2 buys it through its form, by keyboard")
    page = buyer.page
    page.focus("#price")
    page.keyboard.type(PRICE)
    page.keyboard.press("Tab")
    page.keyboard.type(QUANTITY)
    page.focus("#tif")
    page.keyboard.press("ArrowDown")
    check(page.eval_on_selector("#tif", "el => el.value") == "IOC", "IOC chosen by keyboard")
    page.focus("#quantity")
    page.keyboard.press("Enter")
    expect(buyer.result()).to_contain_text(f"Placed buy {QUANTITY} at {PRICE}")

    print("both pages follow the swap to finished")
    steps = ["takerLock", "makerLock", "takerClaim", "makerClaim"]
    hashes = {}
    for watched in (buyer, seller):
        swap = watched.page.locator("li.swap").first
        expect(swap).to_have_attribute("data-outcome", "completed", timeout=SETTLE_MS)
        for step in steps:
            item = swap.locator(f'li[data-step="{step}"]')
            expect(item).to_have_attribute("data-state", "mined", timeout=SETTLE_MS)
            tx = item.locator(".hash[title]").get_attribute("title")
            check(hashes.setdefault(step, tx) == tx, f"{watched.name}: {step} mined in {tx[:12]}…")
        expect(swap.locator('li[data-step="finished"]')).to_have_text("Finished: completed")
        swap_id = swap.get_attribute("data-swap")
        status, detail = watched.node.call("GET", f"/v1/swaps/{swap_id}")
        check([s["txHash"] for s in detail["steps"]] == [hashes[s] for s in steps],
              f"{watched.name}: the page's transactions are the node's")
    figures["swap_seconds"] = round(time.monotonic() - started, 2)

    print("balances moved by exactly the traded amounts")
    cost = Decimal(PRICE) * Decimal(QUANTITY)
    lock_gas, lock = gas_eth(base["rpcUrl"], hashes["makerLock"])
    claim_gas, claim = gas_eth(base["rpcUrl"], hashes["takerClaim"])
    for receipt in (lock, claim):
        tx_hash = receipt["transactionHash"]
        check(receipt["status"] == "0x1", f"transaction {tx_hash[:10]}… succeeded on chain")
    expected = [
        (seller, base["chainId"], "ETH", eth3 - Decimal(QUANTITY) - lock_gas),
        (seller, quote["chainId"], "USDC", usdc3 + cost),
        (buyer, base["chainId"], "ETH", eth2 + Decimal(QUANTITY) - claim_gas),
        (buyer, quote["chainId"], "USDC", usdc2 - cost),
    ]
    for watched, chain, symbol, value in expected:
        watched.wait_balance(chain, symbol, value)
        ok(f"{watched.name}: {symbol} on {chain} shows {value}")

    print("book updates reach the page")
    for i in range(20):
        status, order = node3.call("POST", "/v1/orders", {
            "market": "ETH/USDC", "side": "sell", "price": str(2700 + i), "quantity": "0.01"})
        check(status == 201, f"node 3 placed ask {2700 + i}")
        expect(buyer.page.locator(f'#asks tr[data-price="{2700 + i}"]')).to_be_visible(timeout=30_000)
        node3.call("DELETE", f"/v1/orders/{order['orderId']}")
    expect(buyer.page.locator('#asks tr[data-price="2719"]')).to_have_count(0, timeout=30_000)
    samples = buyer.page.evaluate("window.p2pdex.stats.bookRenderMs")
    median = statistics.median(samples)
    figures["book_update_ms_median"] = round(median, 2)
    figures["book_update_ms_p90"] = round(sorted(samples)[int(len(samples) * 0.9)], 2)
    figures["book_update_samples"] = len(samples)
    check(median < 100, f"WebSocket book message to page: median {median:.2f} ms over {len(samples)} updates")

    print("reloading loses nothing")
    for watched in (buyer, seller):
        before = watched.page.locator("li.swap").count()
        watched.page.reload()
        watched.wait_live()
        check(not watched.page.locator("#login").is_visible(), f"{watched.name}: the token is remembered")
        swap = watched.page.locator("li.swap").first
        expect(swap).to_have_attribute("data-outcome", "completed", timeout=30_000)
        for step in steps:
            expect(swap.locator(f'li[data-step="{step}"]')).to_have_attribute("data-state", "mined")
        check(watched.page.locator("li.swap").count() == before, f"{watched.name}: {before} swap(s) still shown")
    for watched, chain, symbol, value in expected:
        check(watched.balance(chain, symbol) == value, f"{watched.name}: {symbol} still {value}")

    print("a narrow window")
    buyer.page.set_viewport_size({"width": 390, "height": 844})
    buyer.page.wait_for_timeout(200)
    overflow = buyer.page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    check(overflow <= 0, f"no sideways scroll at 390 px (overflow {overflow})")
    buyer.page.screenshot(path=str(ARTIFACTS / "node-2-narrow.png"), full_page=True)
    buyer.page.set_viewport_size({"width": 1400, "height": 1000})

    print("resting orders on both sides, for the pictures")
    resting = [(node3, "sell", "2510", "0.1"), (node3, "sell", "2520", "0.25"),
               (node2, "buy", "2490", "0.15"), (node2, "buy", "2475", "0.3")]
    for node, side, price, quantity in resting:
        status, _ = node.call("POST", "/v1/orders", {
            "market": "ETH/USDC", "side": side, "price": price, "quantity": quantity})
        check(status == 201, f"node {node.index} rests a {side} of {quantity} at {price}")
    for watched in (seller, buyer):
        for _, side, price, _ in resting:
            table = "#asks" if side == "sell" else "#bids"
            expect(watched.page.locator(f'{table} tr[data-price="{price}"]')).to_be_visible(timeout=30_000)
    expect(buyer.page.locator("#orders tbody tr")).to_have_count(2)
    expect(seller.page.locator("#orders tbody tr")).to_have_count(2)
    check(buyer.page.locator("#depth path").count() == 2, "the depth chart draws both sides")
    # What the resting orders reserve: 0.15 × 2490 + 0.3 × 2475 USDC, and 0.35 ETH.
    for watched, chain, symbol, reserved in [(buyer, quote["chainId"], "USDC", Decimal("1116")),
                                             (seller, base["chainId"], "ETH", Decimal("0.35"))]:
        cell = watched.page.locator(
            f'#balances tr[data-chain="{chain}"][data-symbol="{symbol}"] td[data-field="reserved"]')
        expect(cell).to_have_text(str(reserved), timeout=30_000)
        ok(f"{watched.name}: {reserved} {symbol} reserved by its orders")
    for watched in (seller, buyer):
        watched.page.screenshot(path=str(ARTIFACTS / f"node-{watched.node.index}.png"), full_page=True)

    print("nothing else was asked for, nothing went wrong")
    for watched in (seller, buyer, guest):
        origin = watched.node.url
        ws_origin = origin.replace("http://", "ws://")
        foreign = [u for u in watched.urls if not (u.startswith(origin + "/") or u.startswith(ws_origin + "/"))]
        check(not foreign, f"{watched.name}: {len(watched.urls)} requests, none elsewhere {foreign}")
        leaked = [u for u in watched.urls if watched.node.token in u]
        check(not leaked, f"{watched.name}: no URL carries the token")
        check(not watched.errors, f"{watched.name}: no console errors {watched.errors}")
    check(seller.refusals == {422: 1}, f"node 3: only the one refusal provoked by the test {seller.refusals}")
    check(buyer.refusals == {401: 1}, f"node 2: only the one wrong token typed by the test {buyer.refusals}")
    check(guest.refusals == {}, f"guest: no refusal at all {guest.refusals}")


if __name__ == "__main__":
    run_checked(main)
