"""The three values of a BuildingMinds API key, and where to exchange them for a token.

``ClientCredentials`` only holds and checks them (secrets as ``SecretStr``, never shown);
``_auth.TokenManager`` spends them at the token endpoint.
"""

from __future__ import annotations

from collections.abc import Mapping

import httpx2
from pydantic import SecretStr

from ._config import TOKEN_URL_TEMPLATE, EnvSettings, checked_url
from ._errors import ConfigurationError, CredentialSlot


class ClientCredentials:
    """The three values of a BuildingMinds API key, plus where to exchange them for a token.

    ```python
    credentials = ClientCredentials(
        client_id="0f1e...", client_secret="...", scope="api://3c5d.../",
        secondary_client_secret=None,   # the second key, used when the first is rejected
    )
    ```

    ``/.default`` is appended to the scope when missing. The token URL comes from
    ``token_url`` or from ``tenant`` (default: the environment's tenant). Secrets are kept
    as ``SecretStr``: ``repr()`` and ``str()`` never show them.
    """

    __slots__ = ("_client_id", "_scope", "_secrets", "_tenant", "_token_url")

    def __init__(
        self,
        *,
        client_id: str,
        client_secret: str | SecretStr,
        scope: str,
        secondary_client_secret: str | SecretStr | None = None,
        tenant: str | None = None,
        token_url: str | None = None,
    ) -> None:
        if not client_id or not client_id.strip():
            raise ConfigurationError("client_id is empty: set BUILDINGMINDS_CLIENT_ID")
        if not scope or not scope.strip():
            raise ConfigurationError(
                "scope is empty: set BUILDINGMINDS_SCOPE to the Scope URI of the API key"
            )
        primary = _secret(client_secret)
        if not primary.get_secret_value():
            raise ConfigurationError("client_secret is empty: set BUILDINGMINDS_CLIENT_SECRET")
        secondary = _secret(secondary_client_secret) if secondary_client_secret else None
        self._client_id = client_id.strip()
        scope = scope.strip()
        self._scope = scope if scope.endswith("/.default") else scope.rstrip("/") + "/.default"
        self._secrets: dict[CredentialSlot, SecretStr] = {"primary": primary}
        if secondary is not None and secondary.get_secret_value():
            self._secrets["secondary"] = secondary
        self._tenant = tenant.strip() if tenant else None
        self._token_url = token_url.strip() if token_url else None
        if self._token_url:
            checked_url(self._token_url, what="token_url")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ClientCredentials:
        """Read ``BUILDINGMINDS_CLIENT_ID``, ``_CLIENT_SECRET``, ``_SCOPE`` (required) and
        ``_CLIENT_SECRET_SECONDARY``, ``_TENANT``, ``_TOKEN_URL`` (optional)."""
        settings = EnvSettings.from_environ(environ)
        missing = [
            f"BUILDINGMINDS_{name}"
            for name, value in (
                ("CLIENT_ID", settings.client_id),
                ("CLIENT_SECRET", settings.client_secret),
                ("SCOPE", settings.scope),
            )
            if not value
        ]
        if missing:
            raise ConfigurationError(
                f"no credentials: set {', '.join(missing)} (the values of a BuildingMinds "
                f"API key), or pass credentials=ClientCredentials(...)"
            )
        return cls(
            client_id=settings.client_id or "",
            client_secret=settings.client_secret or "",
            scope=settings.scope or "",
            secondary_client_secret=settings.client_secret_secondary,
            tenant=settings.tenant,
            token_url=settings.token_url,
        )

    @property
    def client_id(self) -> str:
        return self._client_id

    @property
    def scope(self) -> str:
        """The scope sent to the token endpoint, ``/.default`` included."""
        return self._scope

    @property
    def tenant(self) -> str | None:
        return self._tenant

    @property
    def token_url(self) -> str | None:
        return self._token_url

    @property
    def slots(self) -> tuple[CredentialSlot, ...]:
        """The secrets configured, in the order they are tried."""
        return tuple(self._secrets)

    def secret(self, slot: CredentialSlot) -> SecretStr:
        return self._secrets[slot]

    def resolve_token_url(self, default_tenant: str) -> httpx2.URL:
        """The token endpoint: ``token_url``, else Entra ID's URL for ``tenant``."""
        if self._token_url:
            return checked_url(self._token_url, what="token_url")
        tenant = self._tenant or default_tenant
        return checked_url(TOKEN_URL_TEMPLATE.format(tenant=tenant), what="token URL")

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ClientCredentials):
            return NotImplemented
        return (
            self._client_id == other._client_id
            and self._scope == other._scope
            and self._tenant == other._tenant
            and self._token_url == other._token_url
            and self._secrets.keys() == other._secrets.keys()
            and all(
                self._secrets[slot].get_secret_value() == other._secrets[slot].get_secret_value()
                for slot in self._secrets
            )
        )

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        where_ = f"token_url={self._token_url!r}" if self._token_url else f"tenant={self._tenant!r}"
        secondary = ", secondary_client_secret='**********'" if "secondary" in self._secrets else ""
        return (
            f"ClientCredentials(client_id={self._client_id!r}, client_secret='**********'"
            f"{secondary}, scope={self._scope!r}, {where_})"
        )

    __str__ = __repr__


def _secret(value: str | SecretStr) -> SecretStr:
    return value if isinstance(value, SecretStr) else SecretStr(value.strip())
