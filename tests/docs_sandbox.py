"""A place where documented commands run as a user would: an emulator, a database, the input files they name.

Each sandbox has its own emulator and folder, so the README and the `--help` examples both start from scratch
(both create the workspace "Web shop" and the goal "Closed deal", which must be unique).
"""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from bingbridge.api.client import BingAdsClient
from bingbridge.api.models.campaign import OfflineConversionGoal, UetTag
from bingbridge.api.models.customer import ClientLink
from bingbridge.auth.login import login
from bingbridge.emulator.server import RunningEmulator, start_in_thread
from bingbridge.serving import free_port
from bingbridge.settings import Secret, Settings
from tests.conftest import cli_env
from tests.docs_support import ROOT

CM = "https://bingads.microsoft.com/Customer/v13"
GOAL = "Signed contract"  # made here, so deals.csv matches a goal whichever command runs first
# Long-running commands: the address that answers once they serve.
READY_PATHS = {"serve": "/healthz", "emulator": "/_emulator/state"}
# The fake browser of `auth login`: follows the sign-in URL to the redirect, as a user's browser would.
BROWSER = f"""#!{sys.executable}
import sys
import httpx
httpx.get(sys.argv[1], follow_redirects=True, timeout=30)
"""


@dataclass
class Sandbox:
    emulator: RunningEmulator
    folder: Path
    env: dict[str, str]
    stand_ins: dict[str, str] = field(default_factory=dict)

    def words(self, line: str) -> list[str]:
        """The command's words with the reader's stand-in values replaced by the sandbox's own."""
        words = [self.stand_ins.get(w, w) for w in shlex.split(line)]
        program = [sys.executable, "-m", "bingbridge"] if words[0] == "bingbridge" else [words[0]]
        return program + words[1:]

    def run(self, line: str, *, timeout: float = 240) -> subprocess.CompletedProcess[str]:
        words = shlex.split(line)
        if words[0] == "bingbridge" and len(words) > 1 and words[1] in READY_PATHS:
            return self.run_server(line, READY_PATHS[words[1]])
        if words[:2] == ["bingbridge", "auth"] and words[2:3] == ["login"] and "--no-browser" in words:
            return self.login_by_pasting(line)
        cwd = ROOT if words[0] == "bash" else self.folder
        return subprocess.run(
            self.words(line), cwd=cwd, env=self.env, capture_output=True, text=True, timeout=timeout, stdin=None
        )

    def run_server(self, line: str, ready_path: str) -> subprocess.CompletedProcess[str]:
        """Start a long-running server on a free port, wait until it answers, then stop it with SIGTERM."""
        words = self.words(line)
        port = str(free_port())
        if "--port" in words:
            words[words.index("--port") + 1] = port
        else:
            words += ["--port", port]
        process = subprocess.Popen(
            words, cwd=self.folder, env=self.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        ready = False
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and process.poll() is None:
            try:
                ready = httpx.get(f"http://127.0.0.1:{port}{ready_path}", timeout=2).status_code == 200
            except httpx.TransportError:
                ready = False
            if ready:
                break
            time.sleep(0.2)
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=30)
        code = 0 if ready else (process.returncode or 1)
        return subprocess.CompletedProcess(words, code, out, err + ("" if ready else "\n(never answered)"))

    def login_by_pasting(self, line: str) -> subprocess.CompletedProcess[str]:
        """`auth login --no-browser`: read the URL it prints, sign in, paste the redirect address back."""
        process = subprocess.Popen(
            self.words(line),
            cwd=self.folder,
            env=self.env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert process.stderr is not None and process.stdin is not None
        seen = []
        for text in process.stderr:
            seen.append(text)
            if "/oauth2/v2.0/authorize?" in text:
                break
        url = seen[-1].strip()
        redirect = self.env["BINGBRIDGE_REDIRECT_URI"]
        while not url.startswith(redirect):
            url = httpx.get(url, follow_redirects=False, timeout=30).headers["location"]
        out, err = process.communicate(url + "\n", timeout=60)
        return subprocess.CompletedProcess(process.args, process.returncode, out, "".join(seen) + err)


def _unlinked_account(emulator: RunningEmulator, home: int) -> int:
    """An account of another customer that the home customer neither manages nor has asked to manage."""
    state = emulator.state
    linked = {link.client_entity_id for link in state.world.client_links}
    for account in state.world.accounts.values():
        if account.parent_customer_id not in (home, *linked) and account.id not in linked:
            assert account.id is not None
            return account.id
    raise AssertionError("the emulator's seed has no unlinked account")


def _invite_home_accounts(emulator: RunningEmulator, settings: Settings, accounts: list[int], folder: Path) -> None:
    """Another manager invites two of the home customer's accounts, so `client-links accept|decline` have a pending
    invitation to answer (as the home user, the client side)."""
    state = emulator.state
    home = state.world.users[state.config.default_user_id].customer_id
    manager_user = next(uid for uid, user in state.world.users.items() if user.customer_id != home)
    manager = state.world.users[manager_user].customer_id
    refresh = httpx.post(f"{emulator.url}/_emulator/tokens", json={"user_id": manager_user}).json()["refresh_token"]
    as_manager = replace(
        settings, refresh_token=Secret(refresh), customer_id=manager, token_file=folder / "manager-tokens.json"
    )
    links = [ClientLink(client_entity_id=account, managing_customer_id=manager) for account in accounts]
    with BingAdsClient(as_manager) as client:
        assert all(result.ok for result in client.customer_management.add_client_links(links))


def _write_inputs(folder: Path) -> None:
    """The files the documented commands name, with conversions Microsoft would accept."""
    when = datetime.now(UTC) - timedelta(days=1)
    stamp = when.strftime("%Y-%m-%dT%H:%M:%SZ")
    deals = [f"{GOAL},{stamp},{c * 32},120.50,USD" for c in "ab"]
    header = "ConversionName,ConversionTime,MicrosoftClickId,ConversionValue,ConversionCurrencyCode"
    (folder / "deals.csv").write_text("\n".join([header, *deals]) + "\n", encoding="utf-8")
    (folder / "excel.csv").write_bytes(f"{header},Note\n{GOAL},{stamp},{'c' * 32},99,EUR,Café\n".encode("cp1252"))
    adjusted = (when + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    (folder / "refunds.csv").write_text(
        "AdjustmentType,AdjustmentTime,AdjustmentValue,AdjustmentCurrencyCode,ConversionName,ConversionTime,"
        f"MicrosoftClickId\nRestate,{adjusted},80,USD,{GOAL},{stamp},{'a' * 32}\n"
    )
    body = f'{{"OfflineConversions": [{{"ConversionName": "{GOAL}", "ConversionTime": "{stamp}", '
    body += f'"MicrosoftClickId": "{"d" * 32}"}}]}}'
    (folder / "body.json").write_text(body)
    (folder / "user.json").write_text('{"UserId": null}')
    (folder / "request.xml").write_text(f'<GetUserRequest xmlns="{CM}"/>')


def open_sandbox(folder: Path) -> Sandbox:
    """A fresh emulator and folder, signed in as a user is after `bingbridge auth login` (tokens in the file)."""
    emulator = start_in_thread()
    config = emulator.config
    settings = Settings(
        client_id=config.client_id,
        client_secret=Secret(config.client_secret),
        developer_token=Secret(config.developer_token),
        refresh_token=Secret("only-for-cli_env"),
        api_base_url=emulator.url,
        token_file=folder / "config" / "bingbridge" / "tokens.json",
        redirect_uri=f"http://localhost:{free_port()}/callback",
    )
    home = next(iter(emulator.state.world.users.values())).customer_id
    assert home is not None
    accounts = [a.id for a in emulator.state.accounts_of(home) if a.id is not None]
    signed_in = replace(settings, refresh_token=None, customer_id=home, account_id=accounts[0])
    with BingAdsClient(signed_in) as client:
        login(signed_in, client.tokens, client.http, open_url=lambda url: httpx.get(url, follow_redirects=True))
        [goal] = client.campaign_management.add_conversion_goals([OfflineConversionGoal(name=GOAL)])
        [tag] = client.campaign_management.add_uet_tags([UetTag(name="Docs site")])
    assert goal.value is not None and tag.value is not None and tag.value.id is not None
    _invite_home_accounts(emulator, settings, accounts[1:3], folder)
    _write_inputs(folder)
    browser = folder / "browser"
    browser.write_text(BROWSER)
    browser.chmod(0o755)
    env = {
        **cli_env(settings),
        "HOME": str(folder),
        "XDG_CONFIG_HOME": str(folder / "config"),
        "COLUMNS": "80",
        "BROWSER": str(browser),
        "BINGBRIDGE_REDIRECT_URI": settings.redirect_uri,
        "BINGBRIDGE_CUSTOMER_ID": str(home),
        "BINGBRIDGE_ACCOUNT_ID": str(accounts[0]),
        "BINGBRIDGE_DATABASE_URL": f"sqlite:///{folder / 'bingbridge.db'}",
        "BINGBRIDGE_ADMIN_PASSWORD": "docs-sandbox-password",
    }
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env["PATH"]])
    del env["BINGBRIDGE_REFRESH_TOKEN"]  # signed in: the token file has them
    stand_ins = {
        "123456789": str(home),
        "987654321": str(_unlinked_account(emulator, home)),
        "123": str(accounts[0]),
        "456": str(accounts[1]),
        "789": str(accounts[2]),
        "123456": str(goal.value),
        "654321": str(tag.value.id),
        "CLIENT_ID": config.client_id,
        "CLIENT_SECRET": config.client_secret,
        "REFRESH_TOKEN": httpx.post(f"{emulator.url}/_emulator/tokens").json()["refresh_token"],
    }
    return Sandbox(emulator, folder, env, stand_ins)
