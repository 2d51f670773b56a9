"""The CLI's error boundary, one test per ordinary mistake: exit 2 when nothing was sent, 1 when Microsoft refused,
a message naming the input and the fix, and never exit 70 ("a bug") or a traceback."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from bingbridge.emulator.server import RunningEmulator
from bingbridge.settings import Settings
from tests.conftest import cli_env

HEADER = "ConversionName,ConversionTime,MicrosoftClickId\n"


@pytest.fixture
def env(bingads_emulator: RunningEmulator, bingads_settings: Settings) -> dict[str, str]:
    home = next(iter(bingads_emulator.state.world.users.values())).customer_id
    account = bingads_emulator.state.accounts_of(home)[0].id
    return {**cli_env(bingads_settings), "BINGBRIDGE_ACCOUNT_ID": str(account)}


def run(
    env: dict[str, str], *args: str, stdin: str | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bingbridge", *args],
        env=env,
        input=stdin,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )


def failed(result: subprocess.CompletedProcess[str], code: int, *texts: str) -> None:
    """The command ended with `code` and a message holding every text; never a traceback."""
    assert result.returncode == code, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr and "bug in bingbridge" not in result.stderr
    for text in texts:
        assert text in result.stderr, (text, result.stderr)


def recent_row() -> str:
    from datetime import UTC, datetime, timedelta

    when = (datetime.now(UTC) - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return f"Clôture,{when},{'a' * 32}\n"


def test_raw_rest_sends_the_body_and_json_is_the_output(env: dict[str, str], tmp_path: Path) -> None:
    body = tmp_path / "user.json"
    body.write_text('{"UserId": null}')
    result = run(env, "raw", "rest", "POST", "/CustomerManagement/v13/User/Query", "--body", str(body), "--json")
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    assert answer["status"] == 200 and answer["body"]["User"]["UserName"]
    piped = run(env, "raw", "rest", "POST", "/CustomerManagement/v13/User/Query", "--body", "-", stdin="{}")
    assert piped.returncode == 0 and "UserName" in piped.stdout, piped.stderr


def test_csv_in_latin1_names_the_file_and_the_encoding_option(env: dict[str, str], tmp_path: Path) -> None:
    deals = tmp_path / "deals.csv"
    deals.write_bytes((HEADER + recent_row()).encode("cp1252"))
    failed(run(env, "conversions", "upload", str(deals), "--dry-run"), 2, "deals.csv is not utf-8", "--encoding cp1252")
    fixed = run(env, "conversions", "upload", str(deals), "--dry-run", "--encoding", "cp1252", "--json")
    assert json.loads(fixed.stdout)["accepted"] == 1, fixed.stderr


def test_csv_in_utf16_points_at_utf16(env: dict[str, str], tmp_path: Path) -> None:
    deals = tmp_path / "deals.csv"
    deals.write_text(HEADER + recent_row(), encoding="utf-16")
    failed(run(env, "conversions", "upload", str(deals), "--dry-run"), 2, "deals.csv is not utf-8", "--encoding utf-16")
    fixed = run(env, "conversions", "upload", str(deals), "--dry-run", "--encoding", "utf-16", "--json")
    assert json.loads(fixed.stdout)["accepted"] == 1, fixed.stderr


@pytest.mark.parametrize("content", ["", HEADER], ids=["empty", "header-only"])
def test_a_csv_without_rows_is_an_error(env: dict[str, str], tmp_path: Path, content: str) -> None:
    deals = tmp_path / "deals.csv"
    deals.write_text(content)
    failed(run(env, "conversions", "upload", str(deals)), 2, "deals.csv has no rows")


def test_invalid_json_body_says_where_it_broke(env: dict[str, str], tmp_path: Path) -> None:
    body = tmp_path / "body.json"
    body.write_text('{"OfflineConversions": [')
    failed(run(env, "conversions", "apply", "--body", str(body)), 2, "body.json is not valid JSON", "line 1")
    failed(run(env, "conversions", "apply", "--body", "-", stdin="nope"), 2, "standard input is not valid JSON")


def test_a_body_whose_conversions_are_not_a_list_is_refused(env: dict[str, str]) -> None:
    result = run(env, "conversions", "apply", "--body", "-", stdin='{"OfflineConversions": "nope"}')
    failed(result, 2, "OfflineConversions is str, not a list")


@pytest.mark.parametrize(
    "args",
    [
        ("conversions", "apply", "--body", "nope.json"),
        ("raw", "soap", "--action", "GetUser", "--body", "nope.xml"),
        ("raw", "rest", "POST", "/CustomerManagement/v13/User/Query", "--body", "nope.json"),
    ],
    ids=["conversions-apply", "raw-soap", "raw-rest"],
)
def test_a_missing_body_file_is_named(env: dict[str, str], tmp_path: Path, args: tuple[str, ...]) -> None:
    failed(run(env, *args, cwd=tmp_path), 2, f"{args[-1]} does not exist", "or - to read standard input")


def test_an_invalid_database_url_names_the_setting(env: dict[str, str]) -> None:
    result = run({**env, "BINGBRIDGE_DATABASE_URL": "nonsense"}, "metrics", "runs")
    failed(result, 2, "database URL is not valid", "BINGBRIDGE_DATABASE_URL")
    unknown = run({**env, "BINGBRIDGE_DATABASE_URL": "oracle+nothing://x/y"}, "workspaces", "list")
    failed(unknown, 2, "database URL is not valid", "--database-url")


def test_a_database_that_is_down_is_not_a_bug(env: dict[str, str]) -> None:
    result = run({**env, "BINGBRIDGE_DATABASE_URL": "postgresql://postgres@127.0.0.1:9/none"}, "metrics", "runs")
    failed(result, 2, "cannot use the database", "that the database server runs")


def test_a_sqlite_file_in_a_missing_folder_is_an_error(env: dict[str, str], tmp_path: Path) -> None:
    missing = tmp_path / "no" / "such" / "dir"
    result = run({**env, "BINGBRIDGE_DATABASE_URL": f"sqlite:///{missing}/x.db"}, "workspaces", "list")
    failed(result, 2, "does not exist", f"Create {missing}")
    assert not missing.exists()


def test_the_default_sqlite_folder_is_still_created(env: dict[str, str], tmp_path: Path) -> None:
    result = run({**env, "XDG_CONFIG_HOME": str(tmp_path / "xdg")}, "workspaces", "list", "--json")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "xdg" / "bingbridge" / "bingbridge.db").exists()


def test_an_unknown_goal_category_lists_the_valid_ones(env: dict[str, str]) -> None:
    failed(run(env, "goals", "add", "--name", "X", "--category", "Lead"), 2, "'Lead' is not one of", "SubmitLeadForm")


def test_goals_add_without_an_account_stops_before_the_call(
    env: dict[str, str], bingads_emulator: RunningEmulator
) -> None:
    before = len(httpx.get(f"{bingads_emulator.url}/_emulator/state").content)
    without = {k: v for k, v in env.items() if k != "BINGBRIDGE_ACCOUNT_ID"}
    result = run(without, "goals", "add", "--name", "No account")
    failed(result, 2, "AddConversionGoals acts for an ad account", "BINGBRIDGE_ACCOUNT_ID", "Pass --account-id.")
    assert "1030" not in result.stderr
    assert len(httpx.get(f"{bingads_emulator.url}/_emulator/state").content) == before


@pytest.mark.parametrize(
    ("args", "option"),
    [
        (("client-links", "add", "--client-entity-id", "1"), "--managing-customer-id"),
        (("users", "invite", "--first-name", "A", "--last-name", "B", "--email", "a@b.c", "--role-id", "100"), None),
    ],
    ids=["client-links-add", "users-invite"],
)
def test_a_missing_customer_id_names_the_option(env: dict[str, str], args: tuple[str, ...], option: str | None) -> None:
    result = run(env, *args)
    failed(result, 2, "no customer id to act for", "BINGBRIDGE_CUSTOMER_ID", f"Or pass {option or '--customer-id'} ID.")
    assert "ManagingCustomerId" not in result.stderr and "CustomerId:" not in result.stderr


def test_a_missing_config_file_is_an_error(env: dict[str, str], tmp_path: Path) -> None:
    named = run(env, "customers", "list", "--config", str(tmp_path / "typo.toml"))
    failed(named, 2, "typo.toml (--config) does not exist")
    by_env = run({**env, "BINGBRIDGE_CONFIG": str(tmp_path / "typo.toml")}, "workspaces", "list")
    failed(by_env, 2, "typo.toml (BINGBRIDGE_CONFIG) does not exist")


def test_unknown_config_keys_are_named(env: dict[str, str], tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('clientid = "typo"\n')
    failed(run(env, "customers", "list", "--config", str(config)), 2, "unknown keys", "clientid", "client_id")


def test_a_garbage_refresh_token_was_sent_so_exit_1(env: dict[str, str], tmp_path: Path) -> None:
    fresh = {**env, "BINGBRIDGE_REFRESH_TOKEN": "garbage", "BINGBRIDGE_TOKEN_FILE": str(tmp_path / "t.json")}
    failed(run(fresh, "customers", "list"), 1, "invalid_grant", "run `bingbridge auth login`")


def test_a_wrong_client_id_is_named_not_a_missing_refresh_token(env: dict[str, str]) -> None:
    assert run(env, "customers", "list").returncode == 0  # stores tokens for the emulator's client id
    typo = {k: v for k, v in env.items() if k != "BINGBRIDGE_REFRESH_TOKEN"} | {"BINGBRIDGE_CLIENT_ID": "emulatr"}
    failed(run(typo, "customers", "list"), 2, "no tokens for client id 'emulatr'", "Check BINGBRIDGE_CLIENT_ID")
    refused = {**env, "BINGBRIDGE_CLIENT_ID": "emulatr"}
    failed(run(refused, "customers", "list"), 1, "unauthorized_client", "The client id is unknown")


def test_a_setting_without_an_option_is_not_offered_as_one(env: dict[str, str], tmp_path: Path) -> None:
    database = {**env, "BINGBRIDGE_DATABASE_URL": f"sqlite:///{tmp_path / 'm.db'}"}
    result = run(database, "metrics", "export", "--format", "amplitude")
    failed(result, 2, "missing setting amplitude_api_key", "BINGBRIDGE_AMPLITUDE_API_KEY")
    assert "option" not in result.stderr


@pytest.mark.parametrize(
    ("module", "extra", "args"),
    [
        ("fastapi", "server", ("serve", "--port", "0")),
        ("pyarrow", "metrics", ("metrics", "export", "--format", "parquet", "--output", "m.parquet")),
        ("psycopg", "postgres", ("--database-url", "postgresql://u@127.0.0.1:9/db")),
    ],
    ids=["server", "metrics", "postgres"],
)
def test_a_missing_extra_says_which_to_install(
    env: dict[str, str], tmp_path: Path, module: str, extra: str, args: tuple[str, ...]
) -> None:
    """A blocker makes the extra's module unimportable, as in a bare `pip install bingbridge`."""
    (tmp_path / "sitecustomize.py").write_text(f"import sys\nsys.modules[{module!r}] = None\n")
    blocked = {**env, "PYTHONPATH": str(tmp_path), "BINGBRIDGE_DATABASE_URL": f"sqlite:///{tmp_path / 's.db'}"}
    command = ("workspaces", "list", *args) if args[0].startswith("--") else args
    failed(run(blocked, *command, cwd=tmp_path), 2, f"pip install 'bingbridge[{extra}]'")


def test_auth_login_always_prints_the_url(env: dict[str, str]) -> None:
    from bingbridge.serving import free_port

    # BROWSER=true: webbrowser "opens" nothing, as on a machine without a browser.
    headless = {**env, "BROWSER": "true", "BINGBRIDGE_REDIRECT_URI": f"http://localhost:{free_port()}/callback"}
    result = run(headless, "auth", "login", "--timeout", "1")
    failed(result, 2, "Sign in at this URL", "/oauth2/v2.0/authorize?", "Waiting up to 1 s", "--no-browser")


def test_destinations_add_map_means_exactly_the_mapping_given(env: dict[str, str], tmp_path: Path) -> None:
    service = {**env, "BINGBRIDGE_DATABASE_URL": f"sqlite:///{tmp_path / 's.db'}", "BINGBRIDGE_SECRET_KEY": ""}
    service["XDG_CONFIG_HOME"] = str(tmp_path / "xdg")
    assert run(service, "workspaces", "create", "Shop").returncode == 0
    common = ["destinations", "add", "--workspace", "Shop", "--customer-id", "1", "--account-id", "2"]
    common += ["--developer-token", "T", "--client-id", "C", "--client-secret", "S", "--refresh-token", "R"]
    given = run(service, *common, "--map", "purchase=Closed deal")
    assert given.returncode == 0, given.stderr
    assert "(as given with --map): purchase -> Closed deal." in given.stderr
    listed = json.loads(run(service, "destinations", "list", "--json").stdout)
    assert listed[0]["conversion_names"] == {"purchase": "Closed deal"}
    defaults = run(service, *common)
    assert "(the defaults; pass --map event=Goal to choose your own): purchase -> Purchase, lead" in defaults.stderr
