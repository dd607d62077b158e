"""The Python MCP SDK as a client of `npm run matrix` (scripts/client-matrix.ts).

It signs in to the local stack with the SDK's own OAuth providers, from the first
401 on: authorization code with PKCE (discovery, dynamic client registration, the
RFC 9207 `iss` check, a browser played by scripts/browser-stand-in.mjs, and a
loopback callback served here), or client credentials with the stack's machine
client. Then it lists the tools and calls web_search, and prints one JSON line
with what it saw, for the matrix to check.

    python matrix-python-client.py authorization_code <mcp-url> <browser-stand-in.mjs>
    python matrix-python-client.py client_credentials <mcp-url> <client-id> <client-secret> <issuer>
"""

import asyncio
import importlib.metadata
import json
import os
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from urllib.parse import parse_qs, urlparse

import httpx2
from mcp import Client
from mcp.client.auth import OAuthClientProvider
from mcp.client.auth.extensions.client_credentials import ClientCredentialsOAuthProvider
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import AuthorizationCodeResult, OAuthClientInformationFull, OAuthClientMetadata, OAuthToken

SCOPE = "web-search:read"
# The Node that runs the browser stand-in (the matrix passes its own).
NODE = os.environ.get("MATRIX_NODE", "node")


class MemoryStorage:
    """Tokens and the registered client, for this run only."""

    def __init__(self) -> None:
        self.tokens: OAuthToken | None = None
        self.client_info: OAuthClientInformationFull | None = None

    async def get_tokens(self) -> OAuthToken | None:
        return self.tokens

    async def set_tokens(self, tokens: OAuthToken) -> None:
        self.tokens = tokens

    async def get_client_info(self) -> OAuthClientInformationFull | None:
        return self.client_info

    async def set_client_info(self, client_info: OAuthClientInformationFull) -> None:
        self.client_info = client_info


class LoopbackCallback:
    """The redirect URI's server: the page a browser lands on with the code, as a desktop client runs it."""

    def __init__(self) -> None:
        received: dict[str, str] = {}
        arrived = threading.Event()

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                query = parse_qs(urlparse(self.path).query)
                received.update({name: values[0] for name, values in query.items()})
                arrived.set()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.end_headers()
                self.wfile.write(b"Signed in; you can close this page.")

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/callback"
        self.received = received
        self.arrived = arrived
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    async def result(self) -> AuthorizationCodeResult:
        if not await asyncio.to_thread(self.arrived.wait, 60):
            raise TimeoutError("the browser never reached the callback")
        return AuthorizationCodeResult(code=self.received.get("code", ""), state=self.received.get("state"), iss=self.received.get("iss"))

    def close(self) -> None:
        self.server.shutdown()


async def use(url: str, auth: httpx2.Auth, query: str) -> dict[str, object]:
    async with httpx2.AsyncClient(auth=auth, timeout=60) as http:
        async with Client(streamable_http_client(url, http_client=http)) as client:
            tools = [tool.name for tool in (await client.list_tools()).tools]
            result = await client.call_tool("web_search", {"query": query, "max_results": 2})
            return {
                "protocolVersion": client.session.protocol_version,
                "tools": tools,
                "isError": bool(result.is_error),
                "results": len((result.structured_content or {}).get("results", [])),
                "text": "\n".join(getattr(part, "text", "") for part in result.content),
            }


async def authorization_code(url: str, browser: str) -> dict[str, object]:
    callback = LoopbackCallback()

    async def open_browser(authorization_url: str) -> None:
        # What a desktop opens for the user: here, the stand-in that follows the redirects.
        await asyncio.to_thread(subprocess.run, [NODE, browser, authorization_url], check=False)

    try:
        provider = OAuthClientProvider(
            server_url=url,
            client_metadata=OAuthClientMetadata(
                client_name="client-matrix (Python MCP SDK)",
                redirect_uris=[callback.url],
                grant_types=["authorization_code", "refresh_token"],
                response_types=["code"],
                token_endpoint_auth_method="none",
                scope=SCOPE,
            ),
            storage=MemoryStorage(),
            redirect_handler=open_browser,
            callback_handler=callback.result,
        )
        return {"redirectUri": callback.url, **await use(url, provider, "python sdk authorization_code")}
    finally:
        callback.close()


async def client_credentials(url: str, client_id: str, client_secret: str, issuer: str) -> dict[str, object]:
    provider = ClientCredentialsOAuthProvider(
        server_url=url, storage=MemoryStorage(), client_id=client_id, client_secret=client_secret, scope=SCOPE, issuer=issuer
    )
    return await use(url, provider, "python sdk client_credentials")


def main() -> None:
    flow, url, *rest = sys.argv[1:]
    if flow == "authorization_code":
        outcome = asyncio.run(authorization_code(url, rest[0]))
    elif flow == "client_credentials":
        outcome = asyncio.run(client_credentials(url, *rest))
    else:
        raise SystemExit(f"unknown flow {flow!r}")
    print(json.dumps({"sdk": importlib.metadata.version("mcp"), "flow": flow, **outcome}))


if __name__ == "__main__":
    main()
