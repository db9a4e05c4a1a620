"""The p2pdex exchange class for `ccxt.async_support`."""

from .p2pdex import p2pdex

__all__ = ["p2pdex"]
