"""Routes, channels and limits of the p2pdex node's API (DESIGN §9)."""

from hummingbot.connector.constants import SECOND
from hummingbot.core.api_throttler.data_types import RateLimit

# The node's API URL stands for Hummingbot's "domain": each node is its own exchange.
DEFAULT_DOMAIN = "http://127.0.0.1:7780"

# Hummingbot's client order ids become the node's `clientOrderId` (1 to 64 characters).
MAX_ORDER_ID_LEN = 64
HBOT_ORDER_ID_PREFIX = "hbot"

HEALTH_PATH = "/v1/health"
MARKETS_PATH = "/v1/markets"
BOOK_PATH = "/v1/markets/{}/book"
ORDERS_PATH = "/v1/orders"
FILLS_PATH = "/v1/fills"
BALANCES_PATH = "/v1/balances"
# Paths that carry a value are throttled under one id each.
BOOK_LIMIT_ID = "book"
ORDER_BY_CLIENT_ID_LIMIT_ID = "order-by-client-id"

SNAPSHOT_DEPTH = 100
FILLS_LIMIT = 1000
WS_HEARTBEAT_TIME_INTERVAL = 30

# The node is local and sets no rate limit; these only keep a runaway loop in bounds.
RATE_LIMITS = [
    RateLimit(limit_id=limit_id, limit=50, time_interval=SECOND)
    for limit_id in (HEALTH_PATH, MARKETS_PATH, BOOK_LIMIT_ID, ORDERS_PATH, FILLS_PATH,
                     BALANCES_PATH, ORDER_BY_CLIENT_ID_LIMIT_ID)
]
