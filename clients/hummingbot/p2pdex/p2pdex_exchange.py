"""The p2pdex connector: a Hummingbot exchange backed by one p2pdex node's API.

Thin on purpose: every reading of the node's JSON is in `p2pdex_translate`, which is tested
against recorded answers; this class only moves requests and answers between Hummingbot
and the node. Orders are limit orders, good till cancelled, identified on the node by
Hummingbot's client order id.
"""

import asyncio
from decimal import Decimal
from typing import Any, Dict, List, Optional, Tuple

from bidict import bidict

from hummingbot.connector.constants import s_decimal_NaN
from hummingbot.connector.exchange.p2pdex import (
    p2pdex_constants as CONSTANTS,
    p2pdex_translate as translate,
    p2pdex_web_utils as web_utils,
)
from hummingbot.connector.exchange.p2pdex.p2pdex_api_order_book_data_source import P2pdexAPIOrderBookDataSource
from hummingbot.connector.exchange.p2pdex.p2pdex_api_user_stream_data_source import P2pdexAPIUserStreamDataSource
from hummingbot.connector.exchange.p2pdex.p2pdex_auth import P2pdexAuth
from hummingbot.connector.exchange_py_base import ExchangePyBase
from hummingbot.connector.trading_rule import TradingRule
from hummingbot.core.data_type.common import OrderType, TradeType
from hummingbot.core.data_type.in_flight_order import InFlightOrder, OrderState, OrderUpdate, TradeUpdate
from hummingbot.core.data_type.order_book_tracker_data_source import OrderBookTrackerDataSource
from hummingbot.core.data_type.trade_fee import TradeFeeBase
from hummingbot.core.data_type.user_stream_tracker_data_source import UserStreamTrackerDataSource
from hummingbot.core.web_assistant.web_assistants_factory import WebAssistantsFactory


class P2pdexExchange(ExchangePyBase):
    web_utils = web_utils

    def __init__(self,
                 p2pdex_api_url: str,
                 p2pdex_api_token: str,
                 balance_asset_limit: Optional[Dict[str, Dict[str, Decimal]]] = None,
                 rate_limits_share_pct: Decimal = Decimal("100"),
                 trading_pairs: Optional[List[str]] = None,
                 trading_required: bool = True):
        self._api_token = p2pdex_api_token
        self._domain = p2pdex_api_url.rstrip("/")
        self._trading_pairs = trading_pairs or []
        self._trading_required = trading_required
        super().__init__(balance_asset_limit, rate_limits_share_pct)

    @property
    def authenticator(self):
        return P2pdexAuth(self._api_token)

    @property
    def name(self) -> str:
        return "p2pdex"

    @property
    def rate_limits_rules(self):
        return CONSTANTS.RATE_LIMITS

    @property
    def domain(self):
        return self._domain

    @property
    def client_order_id_max_length(self):
        return CONSTANTS.MAX_ORDER_ID_LEN

    @property
    def client_order_id_prefix(self):
        return CONSTANTS.HBOT_ORDER_ID_PREFIX

    @property
    def trading_rules_request_path(self):
        return CONSTANTS.MARKETS_PATH

    @property
    def trading_pairs_request_path(self):
        return CONSTANTS.MARKETS_PATH

    @property
    def check_network_request_path(self):
        return CONSTANTS.HEALTH_PATH

    @property
    def trading_pairs(self):
        return self._trading_pairs

    @property
    def is_cancel_request_in_exchange_synchronous(self) -> bool:
        return True

    @property
    def is_trading_required(self) -> bool:
        return self._trading_required

    def supported_order_types(self):
        """Every order is a signed limit order in the network's books."""
        return [OrderType.LIMIT]

    def _is_request_exception_related_to_time_synchronizer(self, request_exception: Exception) -> bool:
        return False

    def _is_order_not_found_during_status_update_error(self, status_update_exception: Exception) -> bool:
        return translate.is_order_not_found(str(status_update_exception))

    def _is_order_not_found_during_cancelation_error(self, cancelation_exception: Exception) -> bool:
        return translate.is_order_not_found(str(cancelation_exception))

    def _create_web_assistants_factory(self) -> WebAssistantsFactory:
        return web_utils.build_api_factory(throttler=self._throttler, auth=self._auth)

    def _create_order_book_data_source(self) -> OrderBookTrackerDataSource:
        return P2pdexAPIOrderBookDataSource(
            trading_pairs=self._trading_pairs,
            connector=self,
            api_factory=self._web_assistants_factory,
            domain=self.domain)

    def _create_user_stream_data_source(self) -> UserStreamTrackerDataSource:
        return P2pdexAPIUserStreamDataSource(
            auth=self._auth,
            trading_pairs=self._trading_pairs,
            connector=self,
            api_factory=self._web_assistants_factory,
            domain=self.domain)

    def _get_fee(self,
                 base_currency: str,
                 quote_currency: str,
                 order_type: OrderType,
                 order_side: TradeType,
                 amount: Decimal,
                 price: Decimal = s_decimal_NaN,
                 is_maker: Optional[bool] = None) -> TradeFeeBase:
        return TradeFeeBase.new_spot_fee(fee_schema=self.trade_fee_schema(), trade_type=order_side)

    async def _update_trading_fees(self):
        """The node charges no fees."""

    async def _place_order(self,
                           order_id: str,
                           trading_pair: str,
                           amount: Decimal,
                           trade_type: TradeType,
                           order_type: OrderType,
                           price: Decimal,
                           **kwargs) -> Tuple[str, float]:
        request = translate.place_order_request(order_id, trading_pair, trade_type is TradeType.BUY, amount, price)
        answer = await self._api_post(path_url=CONSTANTS.ORDERS_PATH, data=request,
                                      is_auth_required=True, limit_id=CONSTANTS.ORDERS_PATH)
        return translate.placed_order(answer)

    async def _place_cancel(self, order_id: str, tracked_order: InFlightOrder):
        await self._api_delete(path_url=translate.own_order_path(order_id), is_auth_required=True,
                               limit_id=CONSTANTS.ORDER_BY_CLIENT_ID_LIMIT_ID)
        return True

    async def _format_trading_rules(self, exchange_info_dict: Dict[str, Any]) -> List[TradingRule]:
        return [TradingRule(**rule) for rule in translate.trading_rules(exchange_info_dict)]

    def _initialize_trading_pair_symbols_from_exchange_info(self, exchange_info: Dict[str, Any]):
        self._set_trading_pair_symbol_map(bidict(translate.trading_pair_symbols(exchange_info)))

    async def _user_stream_event_listener(self):
        """Each message names an own order; its state and fills are read from the node (an
        order message carries no swaps, and only completed swaps are fills)."""
        async for event_message in self._iter_user_event_queue():
            try:
                key, value = translate.user_event_order(event_message)
                orders = (self._order_tracker.all_updatable_orders if key == "client_order_id"
                          else self._order_tracker.all_updatable_orders_by_exchange_order_id)
                order = orders.get(value)
                if order is not None:
                    await self._update_order_from_node(order)
            except asyncio.CancelledError:
                raise
            except Exception:
                self.logger().error("Unexpected error in the p2pdex user stream listener.", exc_info=True)
                await self._sleep(5.0)

    async def _update_order_from_node(self, order: InFlightOrder):
        """Fills first, then the state: a filled order's trades are known when it closes."""
        for trade_update in await self._all_trade_updates_for_order(order):
            self._order_tracker.process_trade_update(trade_update)
        self._order_tracker.process_order_update(await self._request_order_status(order))

    async def _all_trade_updates_for_order(self, order: InFlightOrder) -> List[TradeUpdate]:
        fills = await self._api_get(
            path_url=CONSTANTS.FILLS_PATH,
            params={"market": translate.exchange_symbol(order.trading_pair), "limit": CONSTANTS.FILLS_LIMIT},
            is_auth_required=True,
            limit_id=CONSTANTS.FILLS_PATH)
        fee = TradeFeeBase.new_spot_fee(fee_schema=self.trade_fee_schema(), trade_type=order.trade_type)
        return [
            TradeUpdate(
                trade_id=update["trade_id"],
                client_order_id=order.client_order_id,
                exchange_order_id=update["exchange_order_id"],
                trading_pair=order.trading_pair,
                fill_timestamp=update["fill_timestamp"],
                fill_price=update["fill_price"],
                fill_base_amount=update["fill_base_amount"],
                fill_quote_amount=update["fill_quote_amount"],
                fee=fee,
                is_taker=not update["is_maker"],
            )
            for update in translate.trade_updates(fills, order.client_order_id)
        ]

    async def _request_order_status(self, tracked_order: InFlightOrder) -> OrderUpdate:
        detail = await self._api_get(path_url=translate.own_order_path(tracked_order.client_order_id),
                                     is_auth_required=True, limit_id=CONSTANTS.ORDER_BY_CLIENT_ID_LIMIT_ID)
        update = translate.order_update(detail)
        return OrderUpdate(
            client_order_id=tracked_order.client_order_id,
            exchange_order_id=update["exchange_order_id"],
            trading_pair=tracked_order.trading_pair,
            update_timestamp=update["update_timestamp"],
            new_state=OrderState[update["new_state"]],
        )

    async def _update_balances(self):
        answer = await self._api_get(path_url=CONSTANTS.BALANCES_PATH, is_auth_required=True,
                                     limit_id=CONSTANTS.BALANCES_PATH)
        markets = await self._api_get(path_url=CONSTANTS.MARKETS_PATH, limit_id=CONSTANTS.MARKETS_PATH)
        balances = translate.balances(answer, markets)
        self._account_available_balances.clear()
        self._account_balances.clear()
        for asset, (available, total) in balances.items():
            self._account_available_balances[asset] = available
            self._account_balances[asset] = total

    async def _get_last_traded_price(self, trading_pair: str) -> float:
        """The book's mid price (the node reports only trades it took part in); NaN for an
        empty book."""
        path = CONSTANTS.BOOK_PATH.format(translate.path_segment(translate.exchange_symbol(trading_pair)))
        book = await self._api_get(path_url=path, params={"depth": 1}, limit_id=CONSTANTS.BOOK_LIMIT_ID)
        price = translate.mid_price(book)
        return float("nan") if price is None else float(price)
