"""ClientCredentials: secrets kept out of sight, scope, required values and the token URL."""

from __future__ import annotations

import pytest
from client_support import CLIENT_ID, PRIMARY, SCOPE, SECONDARY, make_credentials
from pydantic import SecretStr

from buildingminds_async import ClientCredentials, ConfigurationError

ENTRA = "https://login.microsoftonline.com/{}/oauth2/v2.0/token"


def test_no_rendering_shows_a_secret() -> None:
    """repr(), str(), format() and %-formatting never show either secret."""
    credentials = make_credentials(secondary_client_secret=SECONDARY)
    renderings = [
        repr(credentials),
        str(credentials),
        f"{credentials}",
        f"{credentials!r}",
        "%s" % (credentials,),  # noqa: UP031
        repr([credentials]),
        str(credentials.secret("primary")),
        repr(credentials.secret("secondary")),
    ]
    for text in renderings:
        assert PRIMARY not in text
        assert SECONDARY not in text
    assert CLIENT_ID in repr(credentials)
    assert "secondary_client_secret='**********'" in repr(credentials)
    assert credentials.secret("primary").get_secret_value() == PRIMARY


def test_secret_str_values_are_accepted() -> None:
    """Secrets may be given as SecretStr; they are used as they are."""
    credentials = make_credentials(
        client_secret=SecretStr(PRIMARY), secondary_client_secret=SecretStr(SECONDARY)
    )
    assert credentials.secret("primary").get_secret_value() == PRIMARY
    assert credentials.secret("secondary").get_secret_value() == SECONDARY


@pytest.mark.parametrize(
    ("given", "sent"),
    [
        ("api://3c5d", "api://3c5d/.default"),
        ("api://3c5d/", "api://3c5d/.default"),
        ("api://3c5d/.default", "api://3c5d/.default"),
        ("  api://3c5d/  ", "api://3c5d/.default"),
    ],
)
def test_default_suffix_is_appended_once(given: str, sent: str) -> None:
    """'/.default' is appended to the scope when missing, and never twice."""
    assert make_credentials(scope=given).scope == sent


@pytest.mark.parametrize(
    ("field", "value", "variable"),
    [
        ("client_id", "", "BUILDINGMINDS_CLIENT_ID"),
        ("client_id", "   ", "BUILDINGMINDS_CLIENT_ID"),
        ("client_secret", "", "BUILDINGMINDS_CLIENT_SECRET"),
        ("client_secret", "  ", "BUILDINGMINDS_CLIENT_SECRET"),
        ("client_secret", SecretStr(""), "BUILDINGMINDS_CLIENT_SECRET"),
        ("scope", "", "BUILDINGMINDS_SCOPE"),
    ],
)
def test_empty_values_are_refused_naming_the_variable(
    field: str, value: object, variable: str
) -> None:
    """An empty client id, secret or scope is refused, saying which variable to set."""
    with pytest.raises(ConfigurationError, match=variable):
        make_credentials(**{field: value})


def test_the_secondary_secret_is_optional() -> None:
    """Without a secondary secret (or with an empty one) only the primary slot exists."""
    assert make_credentials().slots == ("primary",)
    assert make_credentials(secondary_client_secret="").slots == ("primary",)
    assert make_credentials(secondary_client_secret=SECONDARY).slots == ("primary", "secondary")


def test_from_env_reads_every_variable() -> None:
    """from_env builds the credentials from the BUILDINGMINDS_* variables."""
    credentials = ClientCredentials.from_env(
        {
            "BUILDINGMINDS_CLIENT_ID": CLIENT_ID,
            "BUILDINGMINDS_CLIENT_SECRET": PRIMARY,
            "BUILDINGMINDS_CLIENT_SECRET_SECONDARY": SECONDARY,
            "BUILDINGMINDS_SCOPE": SCOPE,
            "BUILDINGMINDS_TENANT": "contoso.onmicrosoft.com",
        }
    )
    assert credentials == ClientCredentials(
        client_id=CLIENT_ID,
        client_secret=PRIMARY,
        secondary_client_secret=SECONDARY,
        scope=SCOPE,
        tenant="contoso.onmicrosoft.com",
    )


def test_from_env_names_every_missing_variable() -> None:
    """With nothing set, the error names all three required variables."""
    with pytest.raises(ConfigurationError) as caught:
        ClientCredentials.from_env({})
    message = str(caught.value)
    for variable in (
        "BUILDINGMINDS_CLIENT_ID",
        "BUILDINGMINDS_CLIENT_SECRET",
        "BUILDINGMINDS_SCOPE",
    ):
        assert variable in message


def test_from_env_names_only_the_missing_variables_and_no_secret() -> None:
    """The error names what is missing, not what is set, and never echoes a secret."""
    with pytest.raises(ConfigurationError) as caught:
        ClientCredentials.from_env({"BUILDINGMINDS_CLIENT_SECRET": PRIMARY})
    message = str(caught.value)
    assert "BUILDINGMINDS_CLIENT_ID" in message
    assert "BUILDINGMINDS_SCOPE" in message
    assert "BUILDINGMINDS_CLIENT_SECRET" not in message
    assert PRIMARY not in message


def test_token_url_from_the_tenant() -> None:
    """With a tenant, the token URL is Entra ID's endpoint for that tenant."""
    credentials = make_credentials(token_url=None, tenant="contoso.onmicrosoft.com")
    url = credentials.resolve_token_url("buildingminds.onmicrosoft.com")
    assert str(url) == ENTRA.format("contoso.onmicrosoft.com")


def test_token_url_from_the_environment_default_tenant() -> None:
    """With neither tenant nor token_url, the environment's tenant is used."""
    credentials = make_credentials(token_url=None)
    url = credentials.resolve_token_url("tstbuildingminds.onmicrosoft.com")
    assert str(url) == ENTRA.format("tstbuildingminds.onmicrosoft.com")


def test_an_explicit_token_url_wins() -> None:
    """token_url is used as given, whatever the tenant."""
    credentials = make_credentials(
        token_url="https://login.example.com/custom/token", tenant="contoso.onmicrosoft.com"
    )
    url = credentials.resolve_token_url("buildingminds.onmicrosoft.com")
    assert str(url) == "https://login.example.com/custom/token"


def test_plain_http_token_url_to_a_remote_host_is_refused() -> None:
    """The secret must never travel over plain http to a remote host."""
    with pytest.raises(ConfigurationError, match="plain http://"):
        make_credentials(token_url="http://login.example.com/t/oauth2/v2.0/token")


def test_plain_http_token_url_to_loopback_is_allowed() -> None:
    """A local token endpoint (the sandbox) may use plain http."""
    credentials = make_credentials(token_url="http://127.0.0.1:8123/token")
    assert str(credentials.resolve_token_url("x")) == "http://127.0.0.1:8123/token"


def test_equality_compares_secrets_without_hashing() -> None:
    """Equal values compare equal; a different secret does not; credentials are unhashable."""
    assert make_credentials() == make_credentials()
    assert make_credentials() != make_credentials(client_secret="another-secret")
    assert make_credentials() != make_credentials(secondary_client_secret=SECONDARY)
    with pytest.raises(TypeError):
        hash(make_credentials())
