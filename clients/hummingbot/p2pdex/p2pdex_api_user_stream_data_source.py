"""Own orders and swaps of the p2pdex node: the WebSocket's `orders` and `swaps` channels,
after `{"op":"auth","token":...}`."""

import asyncio
from typing import TYPE_CHECKING, Any, Dict, List

import hummingbot.connector.exchange.p2pdex.p2pdex_constants as CONSTANTS
from hummingbot.connector.exchange.p2pdex import p2pdex_translate as translate
from hummingbot.connector.exchange.p2pdex.p2pdex_auth import P2pdexAuth
from hummingbot.core.data_type.user_stream_tracker_data_source import UserStreamTrackerDataSource
from hummingbot.core.web_assistant.connections.data_types import WSJSONRequest
from hummingbot.core.web_assistant.web_assistants_factory import WebAssistantsFactory
from hummingbot.core.web_assistant.ws_assistant import WSAssistant

if TYPE_CHECKING:
    from hummingbot.connector.exchange.p2pdex.p2pdex_exchange import P2pdexExchange


class P2pdexAPIUserStreamDataSource(UserStreamTrackerDataSource):
    def __init__(self,
                 auth: P2pdexAuth,
                 trading_pairs: List[str],
                 connector: "P2pdexExchange",
                 api_factory: WebAssistantsFactory,
                 domain: str = CONSTANTS.DEFAULT_DOMAIN):
        super().__init__()
        self._auth = auth
        self._trading_pairs = trading_pairs
        self._connector = connector
        self._api_factory = api_factory
        self._domain = domain

    async def _connected_websocket_assistant(self) -> WSAssistant:
        ws: WSAssistant = await self._api_factory.get_ws_assistant()
        await ws.connect(ws_url=translate.ws_url(self._domain), ping_timeout=CONSTANTS.WS_HEARTBEAT_TIME_INTERVAL)
        return ws

    async def _subscribe_channels(self, websocket_assistant: WSAssistant):
        await websocket_assistant.send(WSJSONRequest(payload=self._auth.auth_message()))
        for channel in ("orders", "swaps"):
            await websocket_assistant.send(WSJSONRequest(payload={"op": "subscribe", "channel": channel}))
        self.logger().info("Subscribed to the p2pdex orders and swaps channels.")

    async def _process_event_message(self, event_message: Dict[str, Any], queue: asyncio.Queue):
        """Queues the messages about an own order; a refused request (a wrong token) drops
        the connection, to be tried again."""
        if event_message.get("type") == "error":
            raise ConnectionError(f"The p2pdex node refused a request: {event_message.get('problem')}")
        if translate.user_event_order(event_message) is not None:
            queue.put_nowait(event_message)
