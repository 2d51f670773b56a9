"""Cold-process `bingbridge customers list` against the emulator, side by side with Microsoft's msads SDK.

Both sides start a fresh Python process, authenticate with a ready token and make the same GetCustomersInfo call.
Run: .venv/bin/python bench/cold_customers_list.py [--runs 10]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from bingbridge.emulator.server import start_in_thread


def msads_script(url: str, access_token: str) -> str:
    """The msads program: import the SDK, give it the token, call GetCustomersInfo, print the names."""
    return f"""
from bingads.authorization import AuthorizationData, OAuthWebAuthCodeGrant, OAuthTokens
from bingads.service_client import ServiceClient
from openapi_client.models.customer import GetCustomersInfoRequest
auth = OAuthWebAuthCodeGrant("emulator-client-id", "emulator-client-secret", "http://localhost/cb")
auth._oauth_tokens = OAuthTokens(access_token={access_token!r}, access_token_expires_in_seconds=3600, refresh_token="x")
data = AuthorizationData(account_id=None, customer_id=None, developer_token="BBD37VB98", authentication=auth)
service = ServiceClient("CustomerManagementService", 13, authorization_data=data, location={url!r})
answer = service.get_customers_info(GetCustomersInfoRequest(CustomerNameFilter="", TopN=5))
print([c.name for c in answer.customers_info])
"""


def timed(cmd: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    result = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    elapsed = time.perf_counter() - started
    if result.returncode != 0 or "Northwind" not in result.stdout:
        raise SystemExit(f"{cmd[:3]} failed: {result.stdout}\n{result.stderr}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    bin_dir = Path(sys.executable).parent
    with start_in_thread() as emulator, tempfile.TemporaryDirectory() as tmp:
        tokens = httpx.post(f"{emulator.url}/_emulator/tokens").json()
        env = {
            **os.environ,
            "BINGBRIDGE_CLIENT_ID": emulator.config.client_id,
            "BINGBRIDGE_CLIENT_SECRET": emulator.config.client_secret,
            "BINGBRIDGE_DEVELOPER_TOKEN": emulator.config.developer_token,
            "BINGBRIDGE_REFRESH_TOKEN": tokens["refresh_token"],
            "BINGBRIDGE_API_BASE_URL": emulator.url,
            "BINGBRIDGE_TOKEN_FILE": str(Path(tmp) / "tokens.json"),
            "XDG_CONFIG_HOME": str(Path(tmp) / "config"),  # keeps ~/.config/bingbridge out
        }
        ours_cmd = [str(bin_dir / "bingbridge"), "customers", "list", "--json"]
        timed(ours_cmd, env)  # first run redeems the refresh token and stores the access token, like a login
        script = Path(tmp) / "msads_call.py"
        script.write_text(msads_script(emulator.url, tokens["access_token"]))
        theirs_cmd = [sys.executable, str(script)]
        timed(theirs_cmd, env)  # warm the OS file cache for both sides equally
        ours = [timed(ours_cmd, env) for _ in range(args.runs)]
        theirs = [timed(theirs_cmd, env) for _ in range(args.runs)]
    ours_ms, theirs_ms = statistics.median(ours) * 1000, statistics.median(theirs) * 1000
    print(f"runs per side: {args.runs}")
    print(f"bingbridge customers list (cold process): median {ours_ms:7.0f} ms  min {min(ours) * 1000:7.0f} ms")
    print(f"msads GetCustomersInfo    (cold process): median {theirs_ms:7.0f} ms  min {min(theirs) * 1000:7.0f} ms")
    print(f"speed-up: {theirs_ms / ours_ms:.1f}x (goal: at least 10x)")


if __name__ == "__main__":
    main()
