"""The p2pdex connector's translation (`p2pdex_translate`) over answers recorded from a real
node (`recorded/`, see the README): stdlib only, no Hummingbot needed."""

import json
import sys
import unittest
from decimal import Decimal
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from p2pdex import p2pdex_translate as translate  # noqa: E402

D = Decimal


def recorded(name):
    """The recorded answer `name` (`recorded/<name>.json`): its status and body."""
    document = json.loads((HERE / "recorded" / f"{name}.json").read_text())
    return document.get("status"), document.get("body", document)


def body(name):
    """The body of the recorded answer `name`."""
    return recorded(name)[1]


def request(name):
    """The request of the recorded answer `name`."""
    return json.loads((HERE / "recorded" / f"{name}.json").read_text())["request"]


def apply_rows(levels, rows):
    """`levels` (`{price: quantity}`) after a diff's rows, as Hummingbot's order book applies
    them: each row replaces its level, a quantity of 0 removes it."""
    result = dict(levels)
    for price, quantity in rows:
        if quantity == 0:
            result.pop(price, None)
        else:
            result[price] = quantity
    return result


def ws_received(name):
    """The messages a recorded WebSocket session received, in order."""
    return body(name)["received"]


def rest_error_text(status, problem):
    """The text of the IOError Hummingbot's REST assistant raises for an answer >= 400."""
    return (f"Error executing request GET http://127.0.0.1:7780/v1/x. HTTP status is {status}. "
            f"Error: {json.dumps(problem)}")


class TradingRules(unittest.TestCase):
    def test_recorded_market(self):
        (rule,) = translate.trading_rules(body("markets"))
        self.assertEqual(rule, {
            "trading_pair": "ETH-USDC",
            "min_order_size": D("0.001"),
            "min_price_increment": D("0.01"),
            "min_base_amount_increment": D("0.001"),
            "min_quote_amount_increment": D("0.00001"),
            "min_notional_size": D("0"),
        })

    def test_min_notional_when_the_node_has_one(self):
        # The devnet sets no minimum value; the field is optional (types.rs MarketInfo).
        market = dict(body("markets")["markets"][0], minNotional="10.5")
        self.assertEqual(translate.trading_rule(market)["min_notional_size"], D("10.5"))

    def test_symbols(self):
        self.assertEqual(translate.trading_pair_symbols(body("markets")), {"ETH/USDC": "ETH-USDC"})
        self.assertEqual(translate.exchange_symbol("ETH-USDC"), "ETH/USDC")


class OrderBook(unittest.TestCase):
    def test_rest_snapshot(self):
        snapshot = translate.book_snapshot(body("book"), update_id=12)
        self.assertEqual(snapshot, {
            "trading_pair": "ETH-USDC",
            "update_id": 12,
            "bids": [(D("2450.25"), D("0.004")), (D("2400"), D("0.1"))],
            "asks": [],
        })

    def test_mid_price_of_a_one_sided_book_is_its_best(self):
        self.assertEqual(translate.mid_price(body("book")), D("2450.25"))
        self.assertIsNone(translate.mid_price({"bids": [], "asks": []}))

    def stream(self):
        return [m for m in ws_received("ws_book") if m["type"] in ("snapshot", "delta")]

    def test_stream_snapshot_then_deltas(self):
        messages = self.stream()
        kind, content = translate.book_message(messages[0])
        self.assertEqual((kind, content["update_id"], content["trading_pair"]), ("snapshot", 1, "ETH-USDC"))
        asks, bids = {}, {}
        last_seq = None
        for message in messages:
            self.assertNotEqual(translate.seq_verdict(last_seq, message), "gap")
            kind, content = translate.book_message(message)
            if kind == "snapshot":
                asks, bids = dict(content["asks"]), dict(content["bids"])
            else:
                asks = apply_rows(asks, content["asks"])
                bids = apply_rows(bids, content["bids"])
            last_seq = content["update_id"]
            if last_seq == 7:
                # seq 7 replaced the 2500 level (0.05 → 0.02): absolute, not a difference.
                self.assertEqual(asks[D("2500")], D("0.02"))
            if last_seq == 8:
                # "0" removes the 2550.5 level: the row keeps quantity 0 for Hummingbot.
                self.assertEqual(content["asks"], [(D("2550.5"), D("0"))])
                self.assertNotIn(D("2550.5"), asks)
                self.assertEqual(asks, {D("2500"): D("0.02"), D("2700"): D("0.02")})
        self.assertEqual(last_seq, 12)
        self.assertEqual(asks, {})
        self.assertEqual(bids, {D("2450.25"): D("0.004"), D("2400"): D("0.1")})
        # The stream ends where the REST book (recorded afterwards) is.
        rest = translate.book_snapshot(body("book"), update_id=last_seq)
        self.assertEqual(bids, dict(rest["bids"]))

    def test_a_missed_delta_is_a_gap(self):
        messages = self.stream()
        self.assertEqual(translate.seq_verdict(3, messages[3]), "next")  # seq 4
        self.assertEqual(translate.seq_verdict(3, messages[4]), "gap")  # seq 5 after 3
        self.assertEqual(translate.seq_verdict(None, messages[4]), "gap")  # delta before a snapshot
        self.assertEqual(translate.seq_verdict(9, messages[0]), "snapshot")

    def test_not_a_book_message(self):
        with self.assertRaises(ValueError):
            translate.book_message(ws_received("ws_book")[0])  # `subscribed`

    def test_channel(self):
        self.assertEqual(translate.book_channel("ETH-USDC"), "book:ETH/USDC")
        self.assertEqual(ws_received("ws_book")[0]["channel"], "book:ETH/USDC")


class OrderStates(unittest.TestCase):
    def state(self, detail):
        update = translate.order_update(detail)
        return update["new_state"], update["filled"]

    def test_open(self):
        update = translate.order_update(body("order_open"))
        self.assertEqual(update, {
            "client_order_id": "hb-buy-open",
            "exchange_order_id": "0xeaf9c04541a589d81c14d42ddf210e496891fe682f19ef9944d35700eeb14507",
            "trading_pair": "ETH-USDC",
            "update_timestamp": 1796552886.448,
            "new_state": "OPEN",
            "filled": D("0"),
        })

    def test_partially_filled_by_a_completed_swap(self):
        self.assertEqual(self.state(body("order_partially_filled")), ("PARTIALLY_FILLED", D("0.03")))

    def test_a_swap_under_way_is_not_a_fill(self):
        self.assertEqual(self.state(body("order_swap_under_way")), ("OPEN", D("0")))

    def test_remaining_reduced_while_the_swap_is_under_way_is_still_open(self):
        # Live stream: the order's remaining fell to 0.02 (message 11) while its swap was
        # only locked (message 12).
        received = ws_received("ws_user")
        detail = {"order": received[11]["order"], "swaps": [received[12]["swap"]]}
        self.assertEqual(detail["order"]["remaining"], "0.02")
        self.assertEqual(self.state(detail), ("OPEN", D("0")))

    def test_filled_only_once_its_swaps_finished(self):
        # Live stream: the node called the order `filled` (message 16) before its swap
        # finished (message 17 locking, message 22 completed).
        received = ws_received("ws_user")
        order = received[16]["order"]
        self.assertEqual(order["status"], "filled")
        self.assertEqual(self.state({"order": order, "swaps": [received[17]["swap"]]}), ("OPEN", D("0")))
        self.assertEqual(self.state({"order": order, "swaps": [received[22]["swap"]]}), ("FILLED", D("0.01")))

    def test_filled(self):
        self.assertEqual(self.state(body("order_filled")), ("FILLED", D("0.01")))
        self.assertEqual(self.state(body("order_filled_two_swaps")), ("FILLED", D("0.05")))

    def test_one_of_two_swaps_under_way(self):
        detail = body("order_filled_two_swaps")
        under_way = dict(detail["swaps"][1], phase="makerLocked")
        del under_way["outcome"]
        detail = dict(detail, swaps=[detail["swaps"][0], under_way])
        self.assertEqual(self.state(detail), ("PARTIALLY_FILLED", D("0.03")))

    def test_done_with_a_refunded_swap_is_cancelled(self):
        detail = body("order_filled")
        refunded = dict(detail["swaps"][0], outcome="refunded")
        self.assertEqual(self.state(dict(detail, swaps=[refunded])), ("CANCELED", D("0")))

    def test_cancelled(self):
        self.assertEqual(self.state(body("order_cancelled")), ("CANCELED", D("0")))

    def test_unknown_status(self):
        with self.assertRaises(ValueError):
            translate.order_state("pending", D("1"), D("0"), False)

    def test_user_stream_names_the_order(self):
        received = ws_received("ws_user")
        self.assertEqual(translate.user_event_order(received[16]), ("client_order_id", "hb-sell-filled"))
        self.assertEqual(
            translate.user_event_order(received[17]),
            ("exchange_order_id", "0x9fe183d932e10adbfd64017d0967d3f64a8d9e07ae23d7aee4747e14c0fb4127"),
        )
        self.assertEqual([m["type"] for m in received[:3]], ["authenticated", "subscribed", "ordersSnapshot"])
        self.assertTrue(all(translate.user_event_order(m) is None for m in received[:5]))


class Placement(unittest.TestCase):
    def test_request_matches_the_recorded_one(self):
        status, answer = recorded("place_order")
        placement = translate.place_order_request("hb-sell-placed", "ETH-USDC", False, D("0.0150"), D("2.6E+3"))
        self.assertEqual(placement, request("place_order")["body"])
        self.assertEqual(status, 201)
        self.assertEqual(translate.placed_order(answer), (answer["orderId"], 1796552972.543))

    def test_client_order_id_rule(self):
        self.assertEqual(translate.place_order_request("a" * 64, "ETH-USDC", True, D(1), D(1))["side"], "buy")
        for bad in ("", "a" * 65, "hb sell", "hb/sell"):
            with self.assertRaises(ValueError):
                translate.place_order_request(bad, "ETH-USDC", True, D(1), D(1))

    def test_paths_and_urls(self):
        self.assertEqual(translate.own_order_path("hb:1.a_b-c"), "/v1/orders/by-client-id/hb%3A1.a_b-c")
        self.assertEqual(translate.rest_url("http://127.0.0.1:7780/", "/v1/fills"), "http://127.0.0.1:7780/v1/fills")
        self.assertEqual(translate.ws_url("http://127.0.0.1:7780"), "ws://127.0.0.1:7780/v1/ws")
        self.assertEqual(translate.ws_url("https://node.example"), "wss://node.example/v1/ws")
        with self.assertRaises(ValueError):
            translate.ws_url("127.0.0.1:7780")


class Fills(unittest.TestCase):
    def test_maker_fills_of_one_order_oldest_first(self):
        updates = translate.trade_updates(body("fills"), "hb-sell-partial")
        self.assertEqual([u["trade_id"][:10] for u in updates], ["0x0b334d23", "0xd6543bde"])
        first = updates[0]
        self.assertEqual(first, {
            "trade_id": "0x0b334d230b366cbc63e30bb4c1ac2b151bc1884ceea7580c0f95c3393e7b4329",
            "client_order_id": "hb-sell-partial",
            "exchange_order_id": "0x830c0b026f7185d7ffb0f0fcaf0b5bc94bfdc6e012a6937c3af8dd37a61f2b79",
            "trading_pair": "ETH-USDC",
            "is_buy": False,
            "is_maker": True,
            "fill_price": D("2500"),
            "fill_base_amount": D("0.03"),
            "fill_quote_amount": D("75"),
            "fill_timestamp": 1796552892.724,
        })
        self.assertEqual(sum(u["fill_base_amount"] for u in updates), D("0.05"))

    def test_exact_cost(self):
        (update,) = translate.trade_updates(body("fills"), "hb-sell-filled")
        self.assertEqual(update["fill_quote_amount"], D("25.505"))
        self.assertEqual(update["fill_quote_amount"], update["fill_price"] * update["fill_base_amount"])

    def test_taker_fills(self):
        updates = translate.trade_updates(body("fills_taker"), "taker-2")
        self.assertEqual([(u["is_buy"], u["is_maker"], u["fill_price"], u["fill_base_amount"]) for u in updates],
                         [(True, False, D("2550.5"), D("0.01")), (True, False, D("2500"), D("0.02"))])

    def test_an_order_without_fills(self):
        self.assertEqual(translate.trade_updates(body("fills"), "hb-buy-open"), [])


class Balances(unittest.TestCase):
    def test_available_is_free_and_total_is_on_chain(self):
        result = translate.balances(body("balances"), body("markets"))
        self.assertEqual(result, {
            "ETH": (D("9999.929999646743004294"), D("9999.939999646743004294")),
            "USDC": (D("999900.704"), D("1000150.505")),
            "native:31338": (D("9999.989999879264205771"), D("9999.999999879264205771")),
        })

    def test_two_trader_keys_add_up(self):
        answer = body("balances")
        twice = {"balances": answer["balances"] * 2}
        self.assertEqual(translate.balances(twice, body("markets"))["USDC"], (D("1999801.408"), D("2000301.010")))


class Problems(unittest.TestCase):
    def test_kinds(self):
        cases = {
            "problem_unknown_client_order_id": (404, "order-not-found"),
            "problem_cancel_unknown_client_order_id": (404, "order-not-found"),
            "problem_invalid_token": (401, "authentication"),
            "problem_insufficient_balance": (422, "insufficient-funds"),
            "problem_off_tick": (422, "invalid-order"),
            "problem_cancel_closed": (409, "order-closed"),
        }
        for name, (status, kind) in cases.items():
            with self.subTest(name):
                answer_status, problem = recorded(name)
                self.assertEqual(answer_status, status)
                self.assertEqual(problem["status"], status)
                self.assertEqual(translate.problem_kind(problem), kind)

    def test_order_not_found_in_an_error_text(self):
        for name, expected in [("problem_unknown_client_order_id", True),
                               ("problem_cancel_unknown_client_order_id", True),
                               ("problem_cancel_closed", False),
                               ("problem_insufficient_balance", False)]:
            with self.subTest(name):
                status, problem = recorded(name)
                self.assertEqual(translate.is_order_not_found(rest_error_text(status, problem)), expected)
        self.assertFalse(translate.is_order_not_found("Cannot connect to host 127.0.0.1:7780"))

    def test_problem_in_error_text(self):
        status, problem = recorded("problem_off_tick")
        self.assertEqual(translate.problem_in_error(rest_error_text(status, problem)), problem)
        self.assertIsNone(translate.problem_in_error('Error: {"type": "about:blank"}'))
        self.assertIsNone(translate.problem_in_error('Error: {"type": "urn:p2pdex:problem:x" broken'))

    def test_not_ours(self):
        self.assertIsNone(translate.problem_slug({"type": "about:blank"}))
        self.assertEqual(translate.problem_kind({"type": "urn:p2pdex:problem:something-new"}), "exchange-error")


if __name__ == "__main__":
    unittest.main()
