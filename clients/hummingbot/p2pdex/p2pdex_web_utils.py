"""URLs and the web assistants factory of the p2pdex connector."""

from typing import Optional

import hummingbot.connector.exchange.p2pdex.p2pdex_constants as CONSTANTS
from hummingbot.connector.exchange.p2pdex import p2pdex_translate as translate
from hummingbot.core.api_throttler.async_throttler import AsyncThrottler
from hummingbot.core.web_assistant.auth import AuthBase
from hummingbot.core.web_assistant.web_assistants_factory import WebAssistantsFactory


def public_rest_url(path_url: str, domain: str = CONSTANTS.DEFAULT_DOMAIN) -> str:
    """The URL of `path_url` on the node whose API URL is `domain`."""
    return translate.rest_url(domain, path_url)


def private_rest_url(path_url: str, domain: str = CONSTANTS.DEFAULT_DOMAIN) -> str:
    """The same as `public_rest_url`: the token, not the URL, makes a request private."""
    return translate.rest_url(domain, path_url)


def create_throttler() -> AsyncThrottler:
    return AsyncThrottler(CONSTANTS.RATE_LIMITS)


def build_api_factory(throttler: Optional[AsyncThrottler] = None,
                      auth: Optional[AuthBase] = None) -> WebAssistantsFactory:
    """No time synchronizer: the node signs nothing of ours with a timestamp."""
    return WebAssistantsFactory(throttler=throttler or create_throttler(), auth=auth)
