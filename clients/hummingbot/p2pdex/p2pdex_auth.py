"""Bearer-token authentication of the p2pdex node's API."""

from hummingbot.core.web_assistant.auth import AuthBase
from hummingbot.core.web_assistant.connections.data_types import RESTRequest, WSRequest


class P2pdexAuth(AuthBase):
    """Adds `Authorization: Bearer <token>` (the node's `api.token`) to REST requests. The
    WebSocket authenticates by message instead (`{"op":"auth","token":...}`, see
    `auth_message`), so upgrade requests pass through."""

    def __init__(self, api_token: str):
        self.api_token = api_token

    async def rest_authenticate(self, request: RESTRequest) -> RESTRequest:
        headers = dict(request.headers or {})
        headers["Authorization"] = f"Bearer {self.api_token}"
        request.headers = headers
        return request

    async def ws_authenticate(self, request: WSRequest) -> WSRequest:
        return request

    def auth_message(self) -> dict:
        """The WebSocket message that presents the token."""
        return {"op": "auth", "token": self.api_token}
