"""Settings: arguments over environment over TOML; missing settings name their variable; secrets stay hidden."""

from __future__ import annotations

from pathlib import Path

import pytest

from bingbridge.errors import ConfigurationError
from bingbridge.settings import Secret, Settings


def test_arguments_beat_environment_beat_toml(tmp_path: Path) -> None:
    toml = tmp_path / "config.toml"
    toml.write_text('client_id = "from-toml"\ncustomer_id = 1\ntenant = "contoso"\n')
    env = {"BINGBRIDGE_CLIENT_ID": "from-env", "BINGBRIDGE_CUSTOMER_ID": "2"}
    settings = Settings.load({"customer_id": 3}, environ=env, config_file=toml)
    assert (settings.client_id, settings.customer_id, settings.tenant) == ("from-env", 3, "contoso")


@pytest.fixture
def empty_config(tmp_path: Path) -> Path:
    """An existing, empty config file: keeps the user's own ~/.config/bingbridge out of these tests."""
    path = tmp_path / "empty.toml"
    path.write_text("")
    return path


def test_missing_setting_names_the_environment_variable(empty_config: Path) -> None:
    with pytest.raises(ConfigurationError, match="BINGBRIDGE_DEVELOPER_TOKEN"):
        Settings.load(environ={}, config_file=empty_config).require("developer_token")


def test_bad_values_are_explained(empty_config: Path) -> None:
    with pytest.raises(ConfigurationError, match="environment must be production or sandbox"):
        Settings.load(environ={"BINGBRIDGE_ENVIRONMENT": "prod"}, config_file=empty_config)
    with pytest.raises(ConfigurationError, match=r"customer_id must be a whole number.*BINGBRIDGE_CUSTOMER_ID"):
        Settings.load(environ={"BINGBRIDGE_CUSTOMER_ID": "abc"}, config_file=empty_config)


def test_a_named_config_file_that_does_not_exist_is_an_error(tmp_path: Path) -> None:
    missing = tmp_path / "typo.toml"
    with pytest.raises(ConfigurationError, match=r"typo.toml \(--config\) does not exist"):
        Settings.load(environ={}, config_file=missing)
    with pytest.raises(ConfigurationError, match=r"typo.toml \(BINGBRIDGE_CONFIG\) does not exist"):
        Settings.load(environ={"BINGBRIDGE_CONFIG": str(missing)})


def test_unknown_toml_keys_are_refused(tmp_path: Path) -> None:
    toml = tmp_path / "config.toml"
    toml.write_text('clientid = "typo"\n')
    with pytest.raises(ConfigurationError, match=r"unknown keys.*clientid"):
        Settings.load(environ={}, config_file=toml)


def test_secrets_never_show_in_repr() -> None:
    settings = Settings(client_secret=Secret("s3cret"), developer_token=Secret("DEV"), refresh_token=Secret("RT"))
    text = repr(settings) + str(settings.client_secret)
    assert "s3cret" not in text and "DEV" not in text and "RT'" not in text
    assert settings.client_secret is not None and settings.client_secret.reveal() == "s3cret"


def test_base_url_sends_every_service_and_oauth_to_one_place(empty_config: Path) -> None:
    from bingbridge.api.services import SERVICES
    from bingbridge.auth.oauth import Endpoints

    settings = Settings.load(
        {"api_base_url": "http://127.0.0.1:9/", "client_id": "c"}, environ={}, config_file=empty_config
    )
    assert {s.rest_host(settings.environment, settings.api_base_url) for s in SERVICES.values()} == {
        "http://127.0.0.1:9"
    }
    assert Endpoints.for_settings(settings).token == "http://127.0.0.1:9/common/oauth2/v2.0/token"


def test_sandbox_uses_sandbox_hosts_and_scope() -> None:
    from bingbridge.api.services import SERVICES
    from bingbridge.auth.oauth import Endpoints

    settings = Settings(environment="sandbox", client_id="c")
    assert (
        SERVICES["customer-management"].rest_host("sandbox") == "https://clientcenter.api.sandbox.bingads.microsoft.com"
    )
    assert Endpoints.for_settings(settings).scope == "https://si.ads.microsoft.com/msads.manage offline_access"


def test_trusted_proxies_are_addresses_or_networks(tmp_path: Path) -> None:
    empty = tmp_path / "config.toml"
    empty.write_text("")
    loaded = Settings.load(environ={"BINGBRIDGE_TRUSTED_PROXIES": " 10.0.0.1, 10.0.0.0/8 ,::1"}, config_file=empty)
    assert loaded.trusted_proxies == "10.0.0.1,10.0.0.0/8,::1"
    assert Settings.load(environ={"BINGBRIDGE_TRUSTED_PROXIES": "*"}, config_file=empty).trusted_proxies == "*"
    with pytest.raises(ConfigurationError, match="BINGBRIDGE_TRUSTED_PROXIES"):
        Settings.load(environ={"BINGBRIDGE_TRUSTED_PROXIES": "proxy.local"}, config_file=empty)
