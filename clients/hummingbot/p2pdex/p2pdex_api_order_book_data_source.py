"""Order books of the p2pdex node: a REST snapshot, then the `book:<market>` WebSocket
channel (a snapshot, then deltas of absolute levels with consecutive seq numbers)."""

import time
from typing import TYPE_CHECKING, Any, Dict, List, Optional

import hummingbot.connector.exchange.p2pdex.p2pdex_constants as CONSTANTS
from hummingbot.connector.exchange.p2pdex import p2pdex_translate as translate, p2pdex_web_utils as web_utils
from hummingbot.core.data_type.order_book_message import OrderBookMessage, OrderBookMessageType
from hummingbot.core.data_type.order_book_tracker_data_source import OrderBookTrackerDataSource
from hummingbot.core.web_assistant.connections.data_types import RESTMethod, WSJSONRequest
from hummingbot.core.web_assistant.web_assistants_factory import WebAssistantsFactory
from hummingbot.core.web_assistant.ws_assistant import WSAssistant

if TYPE_CHECKING:
    from hummingbot.connector.exchange.p2pdex.p2pdex_exchange import P2pdexExchange

MESSAGE_TYPES = {"snapshot": OrderBookMessageType.SNAPSHOT, "diff": OrderBookMessageType.DIFF}


class P2pdexAPIOrderBookDataSource(OrderBookTrackerDataSource):
    def __init__(self,
                 trading_pairs: List[str],
                 connector: "P2pdexExchange",
                 api_factory: WebAssistantsFactory,
                 domain: str = CONSTANTS.DEFAULT_DOMAIN):
        super().__init__(trading_pairs)
        self._connector = connector
        self._api_factory = api_factory
        self._domain = domain
        # The last seq of each book channel: a delta must be the next one.
        self._last_seq: Dict[str, int] = {}

    async def get_last_traded_prices(self, trading_pairs: List[str], domain: Optional[str] = None) -> Dict[str, float]:
        return await self._connector.get_last_traded_prices(trading_pairs=trading_pairs)

    async def _request_order_book_snapshot(self, trading_pair: str) -> Dict[str, Any]:
        rest_assistant = await self._api_factory.get_rest_assistant()
        path = CONSTANTS.BOOK_PATH.format(translate.path_segment(translate.exchange_symbol(trading_pair)))
        return await rest_assistant.execute_request(
            url=web_utils.public_rest_url(path, domain=self._domain),
            params={"depth": CONSTANTS.SNAPSHOT_DEPTH},
            method=RESTMethod.GET,
            throttler_limit_id=CONSTANTS.BOOK_LIMIT_ID,
        )

    async def _order_book_snapshot(self, trading_pair: str) -> OrderBookMessage:
        book = await self._request_order_book_snapshot(trading_pair)
        last_seq = self._last_seq.get(translate.book_channel(trading_pair), 0)
        content = translate.book_snapshot(book, update_id=last_seq)
        return OrderBookMessage(OrderBookMessageType.SNAPSHOT, content, time.time())

    async def _connected_websocket_assistant(self) -> WSAssistant:
        ws: WSAssistant = await self._api_factory.get_ws_assistant()
        await ws.connect(ws_url=translate.ws_url(self._domain), ping_timeout=CONSTANTS.WS_HEARTBEAT_TIME_INTERVAL)
        return ws

    async def _subscribe_channels(self, ws: WSAssistant):
        self._last_seq.clear()
        for trading_pair in self._trading_pairs:
            await self._subscribe(ws, trading_pair)
        self.logger().info("Subscribed to the p2pdex book channels.")

    async def _subscribe(self, ws: WSAssistant, trading_pair: str):
        channel = translate.book_channel(trading_pair)
        await ws.send(WSJSONRequest(payload={"op": "subscribe", "channel": channel}))

    def _channel_originating_message(self, event_message: Dict[str, Any]) -> str:
        """Routes book snapshots and deltas to their queues, after checking the seq: on a
        gap the book is unknown, and the connection is dropped so that it subscribes again
        (the node then starts with a snapshot)."""
        if event_message.get("type") not in ("snapshot", "delta"):
            return ""
        channel = event_message["channel"]
        last_seq = self._last_seq.get(channel)
        if translate.seq_verdict(last_seq, event_message) == "gap":
            self._last_seq.pop(channel, None)
            raise ConnectionError(f"{channel}: seq {event_message['seq']} after {last_seq}; subscribing again")
        self._last_seq[channel] = event_message["seq"]
        if event_message["type"] == "snapshot":
            return self._snapshot_messages_queue_key
        return self._diff_messages_queue_key

    async def _process_message_for_unknown_channel(self, event_message: Dict[str, Any], websocket_assistant: WSAssistant):
        if event_message.get("type") == "error":
            self.logger().error(f"The p2pdex node refused a book request: {event_message.get('problem')}")

    async def _parse_order_book_snapshot_message(self, raw_message: Dict[str, Any], message_queue):
        message_queue.put_nowait(self._book_message(raw_message))

    async def _parse_order_book_diff_message(self, raw_message: Dict[str, Any], message_queue):
        message_queue.put_nowait(self._book_message(raw_message))

    async def _parse_trade_message(self, raw_message: Dict[str, Any], message_queue):
        """The node publishes no public trades (its `trades:` channel is its own trades)."""

    @staticmethod
    def _book_message(raw_message: Dict[str, Any]) -> OrderBookMessage:
        kind, content = translate.book_message(raw_message)
        return OrderBookMessage(MESSAGE_TYPES[kind], content, time.time())

    async def subscribe_to_trading_pair(self, trading_pair: str) -> bool:
        if self._ws_assistant is None:
            self.logger().warning("Cannot subscribe: the WebSocket is not connected")
            return False
        await self._subscribe(self._ws_assistant, trading_pair)
        self.add_trading_pair(trading_pair)
        return True

    async def unsubscribe_from_trading_pair(self, trading_pair: str) -> bool:
        if self._ws_assistant is None:
            self.logger().warning("Cannot unsubscribe: the WebSocket is not connected")
            return False
        channel = translate.book_channel(trading_pair)
        await self._ws_assistant.send(WSJSONRequest(payload={"op": "unsubscribe", "channel": channel}))
        self._last_seq.pop(channel, None)
        self.remove_trading_pair(trading_pair)
        return True
