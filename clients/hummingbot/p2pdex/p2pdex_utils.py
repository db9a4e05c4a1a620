"""Configuration of the p2pdex connector: the node's API URL and token; no trading fees."""

from decimal import Decimal

from pydantic import ConfigDict, Field, SecretStr

from hummingbot.client.config.config_data_types import BaseConnectorConfigMap
from hummingbot.core.data_type.trade_fee import TradeFeeSchema

CENTRALIZED = True
EXAMPLE_PAIR = "ETH-USDC"

# The node charges nothing: each side pays only its own swap transactions' gas, on chain.
DEFAULT_FEES = TradeFeeSchema(
    maker_percent_fee_decimal=Decimal("0"),
    taker_percent_fee_decimal=Decimal("0"),
)


class P2pdexConfigMap(BaseConnectorConfigMap):
    connector: str = "p2pdex"
    p2pdex_api_url: str = Field(
        default="http://127.0.0.1:7780",
        json_schema_extra={
            "prompt": "Enter your p2pdex node's API URL (the content of <data dir>/api.url)",
            "is_secure": False,
            "is_connect_key": True,
            "prompt_on_new": True,
        },
    )
    p2pdex_api_token: SecretStr = Field(
        default=...,
        json_schema_extra={
            "prompt": "Enter your p2pdex node's API token (the content of <data dir>/api.token)",
            "is_secure": True,
            "is_connect_key": True,
            "prompt_on_new": True,
        },
    )
    model_config = ConfigDict(title="p2pdex")


KEYS = P2pdexConfigMap.model_construct()
