"""URL checks, environment presets and the BUILDINGMINDS_* settings."""

from __future__ import annotations

import re

import httpx2
import pytest

from buildingminds_async import ConfigurationError
from buildingminds_async._config import (
    ENVIRONMENTS,
    EnvSettings,
    checked_url,
    is_loopback_host,
    resolve_environment,
)


@pytest.mark.parametrize(
    "url",
    [
        "https://api.onbuildingminds.com/api/digitaltwinintegration",
        "https://api.example.com:8443/",
        "https://10.0.0.5/api",
    ],
)
def test_https_urls_are_accepted(url: str) -> None:
    """Any absolute https:// URL is accepted and returned parsed."""
    parsed = checked_url(url, what="base_url")
    assert isinstance(parsed, httpx2.URL)
    assert parsed == httpx2.URL(url)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/api",
        "http://127.0.0.2/api",
        "http://[::1]:8080/api",
        "http://localhost:8080/api",
        "http://LOCALHOST/api",
        "http://sandbox.localhost/api",
    ],
)
def test_plain_http_to_loopback_is_accepted(url: str) -> None:
    """Plain http:// is fine for loopback hosts (the sandbox, a local proxy)."""
    assert checked_url(url, what="base_url").scheme == "http"


@pytest.mark.parametrize(
    "url",
    [
        "http://api.onbuildingminds.com/api",
        "http://10.0.0.5/api",
        "http://localhost.example.com/api",
        "http://[2001:db8::1]/api",
    ],
)
def test_plain_http_to_a_remote_host_is_refused_with_the_reason(url: str) -> None:
    """Plain http:// to a remote host is refused, saying the token would be exposed."""
    with pytest.raises(ConfigurationError) as caught:
        checked_url(url, what="base_url")
    message = str(caught.value)
    assert message.startswith("base_url")
    assert url in message
    assert "bearer token" in message
    assert "https://" in message
    assert "loopback" in message


def test_urls_with_user_info_are_refused_without_echoing_it() -> None:
    """A URL carrying a user name and password is refused; the password is not repeated."""
    with pytest.raises(ConfigurationError, match="user name or password") as caught:
        checked_url("https://user:hunter2@api.example.com/api", what="token_url")
    assert "hunter2" not in str(caught.value)
    assert str(caught.value).startswith("token_url")


@pytest.mark.parametrize(
    ("url", "said"),
    [
        ("https://api.example.com/api?tenant=x", "query or a fragment"),
        ("https://api.example.com/api#top", "query or a fragment"),
        ("https://api.example.com/api?", "query or a fragment"),
        ("https://api.example.com/api/../other", "'..' path segment"),
        ("https://api.example.com/./api", "'..' path segment"),
        ("https://api.example.com/api/%2e%2e/other", "'..' path segment"),
    ],
)
def test_urls_that_would_be_rewritten_are_refused(url: str, said: str) -> None:
    """A query, fragment or dot segment would send token-bearing requests elsewhere than
    the path given: a configuration error naming the URL, not a silent rewrite."""
    with pytest.raises(ConfigurationError, match=re.escape(said)) as caught:
        checked_url(url, what="base_url")
    assert url in str(caught.value)


@pytest.mark.parametrize(
    "url", ["api.example.com/api", "/api/digitaltwinintegration", "ftp://api.example.com", ""]
)
def test_relative_or_non_http_urls_are_refused(url: str) -> None:
    """A URL without https:// scheme and host is refused with an example of a good one."""
    with pytest.raises(ConfigurationError, match="absolute https:// URL"):
        checked_url(url, what="base_url")


def test_an_unparsable_url_is_a_configuration_error() -> None:
    """A URL httpx cannot parse becomes a ConfigurationError (also a ValueError)."""
    with pytest.raises(ConfigurationError, match="not a valid URL") as caught:
        checked_url("https://[::1/", what="base_url")
    assert isinstance(caught.value, ValueError)


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("[::1]", True),
        ("::1", True),
        ("localhost", True),
        ("api.localhost", True),
        ("localhost.example.com", False),
        ("192.168.1.1", False),
        ("example.com", False),
    ],
)
def test_loopback_hosts(host: str, loopback: bool) -> None:
    """Loopback means localhost names, 127.0.0.0/8 and ::1."""
    assert is_loopback_host(host) is loopback


def test_environment_presets() -> None:
    """production and development map to their API and tenant; None means production."""
    assert resolve_environment(None) == ENVIRONMENTS["production"]
    production = resolve_environment("production")
    assert production.base_url == "https://api.onbuildingminds.com/api/digitaltwinintegration"
    assert production.tenant == "buildingminds.onmicrosoft.com"
    development = resolve_environment(" Development ")
    assert development.name == "development"
    assert development.base_url == "https://api.dev.onbuildingminds.com/api/digitaltwinintegration"
    assert development.tenant == "tstbuildingminds.onmicrosoft.com"


def test_unknown_environment_lists_the_known_ones() -> None:
    """An unknown environment name is refused, naming the valid ones and base_url."""
    with pytest.raises(ConfigurationError) as caught:
        resolve_environment("staging")
    message = str(caught.value)
    assert "'staging'" in message
    assert "production" in message
    assert "development" in message
    assert "BUILDINGMINDS_BASE_URL" in message


def test_env_settings_read_every_variable() -> None:
    """from_environ reads each BUILDINGMINDS_* variable into its field, trimmed."""
    environ = {
        "BUILDINGMINDS_BASE_URL": " https://api.example.com/api ",
        "BUILDINGMINDS_ENVIRONMENT": "development",
        "BUILDINGMINDS_TOKEN_URL": "https://login.example.com/t/token",
        "BUILDINGMINDS_TENANT": "contoso.onmicrosoft.com",
        "BUILDINGMINDS_CLIENT_ID": "client-1",
        "BUILDINGMINDS_CLIENT_SECRET": "s1",
        "BUILDINGMINDS_CLIENT_SECRET_SECONDARY": "s2",
        "BUILDINGMINDS_SCOPE": "api://scope/",
        "OTHER_CLIENT_ID": "ignored",
    }
    assert EnvSettings.from_environ(environ) == EnvSettings(
        base_url="https://api.example.com/api",
        environment="development",
        token_url="https://login.example.com/t/token",
        tenant="contoso.onmicrosoft.com",
        client_id="client-1",
        client_secret="s1",
        client_secret_secondary="s2",
        scope="api://scope/",
    )


def test_env_settings_treat_empty_values_as_unset() -> None:
    """Unset, empty and blank variables all read as None."""
    settings = EnvSettings.from_environ({"BUILDINGMINDS_CLIENT_ID": "", "BUILDINGMINDS_SCOPE": " "})
    assert settings == EnvSettings()


def test_env_settings_default_to_the_process_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Without an explicit mapping, os.environ is read."""
    monkeypatch.setenv("BUILDINGMINDS_CLIENT_ID", "from-os-environ")
    assert EnvSettings.from_environ().client_id == "from-os-environ"
