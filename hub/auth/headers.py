"""Security headers on every answer of the hub, as plain ASGI middleware.

Plain ASGI (not ``BaseHTTPMiddleware``) so a streamed answer — the live page's
event stream — passes through untouched but for its headers.
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

#: Scripts and styles only from the hub itself: an injected ``<script>`` in a sensor's name does not run.
CONTENT_SECURITY_POLICY = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline';"
                           " img-src 'self' data: blob:; frame-ancestors 'none'; form-action 'self'; base-uri 'none'")
#: FastAPI's interactive API docs load Swagger UI / ReDoc from a CDN and start it with an inline script.
_DOCS_POLICY = ("default-src 'self'; script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net;"
                " style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; img-src 'self' data: blob:"
                " https://fastapi.tiangolo.com; worker-src blob:; frame-ancestors 'none'; form-action 'self';"
                " base-uri 'none'")
_DOCS_PATHS = ("/docs", "/redoc")


def headers_for(path: str) -> dict[str, str]:
    """The headers an answer to ``path`` gets (unless the route set them itself)."""
    headers = {
        "Content-Security-Policy": _DOCS_POLICY if path.startswith(_DOCS_PATHS) else CONTENT_SECURITY_POLICY,
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "same-origin",
        "X-Frame-Options": "DENY",
    }
    if not path.startswith("/static"):
        # Readings, alarms and people's names must not linger in a shared browser's or a proxy's cache.
        headers["Cache-Control"] = "no-store"
    return headers


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        wanted = headers_for(scope["path"])

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in wanted.items():
                    if name not in headers:
                        headers[name] = value
            await send(message)

        await self.app(scope, receive, send_with_headers)
