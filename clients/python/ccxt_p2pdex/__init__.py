"""CCXT exchange classes for a p2pdex node's HTTP API: `ccxt_p2pdex.p2pdex` (sync) and
`ccxt_p2pdex.async_support.p2pdex` (asyncio). `apiKey` is the node's API token and
`urls.api` its URL.
"""

from .p2pdex import p2pdex

__all__ = ["p2pdex"]
__version__ = "0.1.0"
