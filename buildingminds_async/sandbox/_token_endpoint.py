"""The sandbox's Microsoft Entra ID token endpoint (OAuth2 client credentials).

``POST /{tenant}/oauth2/v2.0/token`` checks what Entra ID checks, in its order, and
answers its errors in its shape (``AADSTS`` codes, trace and correlation ids), so that a
token client is tested against what it will meet: a wrong tenant, grant, client, scope or
resource, a missing, wrong or expired secret, and the injected 429/5xx faults.
"""

from __future__ import annotations

import base64
import binascii
import time
import uuid
from urllib.parse import parse_qsl, unquote_plus

from ._asgi import Request, after_fault
from ._faults import STATUS_FAULTS
from ._state import SandboxState

__all__ = ["TokenEndpoint"]

_MAX_FORM_BYTES = 64 * 1024


class TokenEndpoint:
    """The token endpoint of one tenant, issuing tokens for one resource (``scope``)."""

    def __init__(self, state: SandboxState, *, tenant: str, scope: str) -> None:
        self.state = state
        self.tenant = tenant
        self.scope = scope

    async def __call__(self, req: Request) -> None:
        state = self.state
        state.count("token_requests")
        fault = state.draw_fault("token")
        if fault is not None and fault.kind in STATUS_FAULTS:
            status = int(fault.kind)
            retry_after = fault.retry_after if fault.retry_after is not None else 1
            headers = (("retry-after", str(retry_after)),) if status in (429, 503) else ()
            error = "temporarily_unavailable" if status in (429, 503) else "server_error"
            await self._entra_error(
                req, status, error, 50196 if status == 429 else 90033,
                f"The service is temporarily unavailable (injected HTTP {status}).",
                headers,
            )  # fmt: skip
            return
        tenant = req.params["tenant"]
        if tenant.lower() != self.tenant.lower():
            await self._entra_error(
                req, 400, "invalid_request", 90002,
                f"Tenant '{tenant}' not found. Check to make sure you have the correct tenant "
                f"ID and are signing into the correct cloud.",
            )  # fmt: skip
            return
        body = await req.body(_MAX_FORM_BYTES)
        if body is None:  # as the OpenAPI document says: 413, not a form read as empty
            await self._entra_error(
                req, 413, "invalid_request", 90000,
                f"The request body is larger than {_MAX_FORM_BYTES // 1024} KiB; a token "
                f"request is a short form (grant_type, client_id, client_secret, scope).",
            )  # fmt: skip
            return
        form: dict[str, str] = {}
        if req.media_type() == "application/x-www-form-urlencoded":
            for key, value in parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True):
                form.setdefault(key, value)
        client_id = form.get("client_id")
        client_secret = form.get("client_secret")
        basic = _basic_credentials(req.header(b"authorization"))
        if basic is not None:
            client_id, client_secret = basic
        grant_type = form.get("grant_type")
        if not grant_type:
            await self._missing_parameter(req, "grant_type")
            return
        if grant_type != "client_credentials":
            await self._entra_error(
                req, 400, "unsupported_grant_type", 70003,
                f"The app requested an unsupported grant type '{grant_type}'.",
            )  # fmt: skip
            return
        if not client_id:
            await self._missing_parameter(req, "client_id")
            return
        if client_id != state.client_id:
            await self._entra_error(
                req, 400, "unauthorized_client", 700016,
                f"Application with identifier '{client_id}' was not found in the directory "
                f"'{self.tenant}'.",
            )  # fmt: skip
            return
        scope = form.get("scope")
        if not scope:
            await self._missing_parameter(req, "scope")
            return
        if not scope.endswith("/.default") or " " in scope.strip():
            await self._entra_error(
                req, 400, "invalid_scope", 1002012,
                f"The provided value for scope {scope} is not valid. Client credential flows "
                f"must have a scope value with /.default suffixed to the resource identifier "
                f"(application ID URI).",
            )  # fmt: skip
            return
        resource = scope[: -len("/.default")].rstrip("/")
        if resource != self.scope.rstrip("/"):
            await self._entra_error(
                req, 400, "invalid_resource", 500011,
                f"The resource principal named {resource} was not found in the tenant named "
                f"{self.tenant}.",
            )  # fmt: skip
            return
        if not client_secret:
            await self._entra_error(
                req, 401, "invalid_client", 7000218,
                "The request body must contain the following parameter: 'client_assertion' "
                "or 'client_secret'.",
            )  # fmt: skip
            return
        slot = state.check_secret(client_secret)
        if slot == "wrong":
            await self._entra_error(
                req, 401, "invalid_client", 7000215,
                "Invalid client secret provided. Ensure the secret being sent in the request "
                f"is the client secret value, not the client secret ID, for a secret added to "
                f"app '{client_id}'.",
            )  # fmt: skip
            return
        if slot == "expired":
            await self._entra_error(
                req, 401, "invalid_client", 7000222,
                f"The provided client secret keys for app '{client_id}' are expired. Visit the "
                f"Azure portal to create new keys for your app: https://aka.ms/NewClientSecret, "
                f"or consider using certificate credentials for added security: "
                f"https://aka.ms/certCreds.",
            )  # fmt: skip
            return
        token, lifetime = state.issue_token(client_id)
        if await after_fault(req, fault):
            await req.respond(
                200,
                {
                    "token_type": "Bearer",
                    "expires_in": lifetime,
                    "ext_expires_in": lifetime,
                    "access_token": token,
                },
                (("cache-control", "no-store"), ("pragma", "no-cache")),
            )

    async def _missing_parameter(self, req: Request, name: str) -> None:
        await self._entra_error(
            req, 400, "invalid_request", 900144,
            f"The request body must contain the following parameter: '{name}'.",
        )  # fmt: skip

    async def _entra_error(
        self,
        req: Request,
        status: int,
        error: str,
        code: int,
        description: str,
        headers: tuple[tuple[str, str], ...] = (),
    ) -> None:
        """An error in Microsoft Entra ID's shape (what a token client must parse)."""
        self.state.count("token_errors")
        trace_id, correlation_id = str(uuid.uuid4()), str(uuid.uuid4())
        stamp = time.strftime("%Y-%m-%d %H:%M:%SZ", time.gmtime(self.state.wall(self.state.now())))
        await req.respond(
            status,
            {
                "error": error,
                "error_description": f"AADSTS{code}: {description} Trace ID: {trace_id} "
                f"Correlation ID: {correlation_id} Timestamp: {stamp}",
                "error_codes": [code],
                "timestamp": stamp,
                "trace_id": trace_id,
                "correlation_id": correlation_id,
                "error_uri": f"https://login.microsoftonline.com/error?code={code}",
            },
            headers,
        )


def _basic_credentials(authorization: str | None) -> tuple[str, str] | None:
    """client_secret_basic: the client id and secret from an HTTP Basic header."""
    if not authorization:
        return None
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    user, sep, password = decoded.partition(":")
    if not sep:
        return None
    return unquote_plus(user), unquote_plus(password)
