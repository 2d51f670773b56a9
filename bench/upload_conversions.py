"""Building and sending 100,000 offline conversions to the emulator: bingbridge vs Microsoft's msads SDK.

The emulator runs in its own process; each side runs in a fresh process and is timed from start to the last
answer, building the conversions included. msads has no batching of its own, so its side sends the same
1,000-conversion batches with ApplyOfflineConversions; bingbridge validates every row too.
Run: .venv/bin/python bench/upload_conversions.py [--rows 100000]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import httpx

from bingbridge.api.client import BingAdsClient
from bingbridge.api.models.campaign import OfflineConversionGoal
from bingbridge.auth.tokens import MemoryTokenStore
from bingbridge.emulator.server import free_port
from bingbridge.settings import Secret, Settings

OURS = """
import sys, time
from datetime import UTC, datetime, timedelta
from bingbridge.api.client import BingAdsClient
from bingbridge.conversions.prepare import PrepareOptions
from bingbridge.conversions.rows import rows_from_records
from bingbridge.conversions.upload import upload_conversions
rows, now = int(sys.argv[1]), datetime.now(UTC)
records = (
    {"ConversionName": "Lead", "ConversionTime": (now - timedelta(seconds=i + 60)).isoformat(),
     "MicrosoftClickId": f"{i:032x}", "ConversionValue": "10.5", "ConversionCurrencyCode": "USD"}
    for i in range(rows)
)
with BingAdsClient() as client:
    result = upload_conversions(client, rows_from_records(records), PrepareOptions(now=now))
print(result.count("accepted"), result.calls)
"""

THEIRS = """
import sys
from datetime import UTC, datetime, timedelta
from bingads.authorization import AuthorizationData, OAuthDesktopMobileAuthCodeGrant, OAuthTokens
from bingads.service_client import ServiceClient
from openapi_client.models.campaign import ApplyOfflineConversionsRequest, OfflineConversion
url, token, customer, account, rows = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
auth = OAuthDesktopMobileAuthCodeGrant(client_id="emulator-client-id", oauth_tokens=OAuthTokens(access_token=token))
data = AuthorizationData(developer_token="BBD37VB98", authentication=auth, customer_id=customer, account_id=account)
service = ServiceClient("CampaignManagementService", 13, authorization_data=data, location=url)
now = datetime.now(UTC)
conversions = [
    OfflineConversion(ConversionName="Lead", ConversionTime=now - timedelta(seconds=i + 60),
                      MicrosoftClickId=f"{i + 10**9:032x}", ConversionValue=10.5, ConversionCurrencyCode="USD")
    for i in range(rows)
]
calls = 0
for start in range(0, rows, 1000):
    batch = conversions[start:start + 1000]
    service.apply_offline_conversions(ApplyOfflineConversionsRequest(OfflineConversions=batch))
    calls += 1
print(rows, calls)
"""


def timed(cmd: list[str], env: dict[str, str]) -> tuple[float, str]:
    started = time.perf_counter()
    result = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=1800)
    if result.returncode != 0:
        raise SystemExit(f"{cmd[:3]} failed:\n{result.stderr[-2000:]}")
    return time.perf_counter() - started, result.stdout.strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=100_000)
    args = parser.parse_args()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    bin_dir = Path(sys.executable).parent
    emulator = subprocess.Popen(
        [str(bin_dir / "bingbridge"), "emulator", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        for _ in range(100):
            try:
                state = httpx.get(f"{url}/_emulator/state").json()
                break
            except httpx.TransportError:
                time.sleep(0.1)
        user = state["users"][0]
        customer = int(user["CustomerId"])
        account = next(int(a["Id"]) for a in state["accounts"] if int(a["ParentCustomerId"]) == customer)
        tokens = httpx.post(f"{url}/_emulator/tokens").json()
        settings = Settings(
            client_id="emulator-client-id",
            client_secret=Secret("emulator-client-secret"),
            developer_token=Secret("BBD37VB98"),
            refresh_token=Secret(tokens["refresh_token"]),
            api_base_url=url,
            customer_id=customer,
            account_id=account,
        )
        with BingAdsClient(settings, token_store=MemoryTokenStore()) as client:
            client.campaign_management.add_conversion_goals([OfflineConversionGoal(name="Lead")])
        with tempfile.TemporaryDirectory() as tmp:
            fresh = httpx.post(f"{url}/_emulator/tokens").json()["refresh_token"]
            env = {
                **os.environ,
                "BINGBRIDGE_CLIENT_ID": "emulator-client-id",
                "BINGBRIDGE_CLIENT_SECRET": "emulator-client-secret",
                "BINGBRIDGE_DEVELOPER_TOKEN": "BBD37VB98",
                "BINGBRIDGE_REFRESH_TOKEN": fresh,
                "BINGBRIDGE_API_BASE_URL": url,
                "BINGBRIDGE_CUSTOMER_ID": str(customer),
                "BINGBRIDGE_ACCOUNT_ID": str(account),
                "BINGBRIDGE_TOKEN_FILE": str(Path(tmp) / "tokens.json"),
                "XDG_CONFIG_HOME": str(Path(tmp) / "config"),  # keeps ~/.config/bingbridge out
            }
            ours_s, ours_out = timed([sys.executable, "-c", textwrap.dedent(OURS), str(args.rows)], env)
            theirs_s, theirs_out = timed(
                [
                    sys.executable,
                    "-c",
                    THEIRS,
                    url,
                    tokens["access_token"],
                    str(customer),
                    str(account),
                    str(args.rows),
                ],
                env,
            )
        received = len(httpx.get(f"{url}/_emulator/offline-conversions").json())
    finally:
        emulator.terminate()
        emulator.wait(10)
    print(json.dumps({"rows": args.rows, "ours_output": ours_out, "theirs_output": theirs_out, "received": received}))
    print(f"bingbridge upload_conversions: {ours_s:6.1f} s  ({args.rows / ours_s:8.0f} rows/s, validated + batched)")
    print(f"msads apply_offline_conversions: {theirs_s:6.1f} s  ({args.rows / theirs_s:8.0f} rows/s)")
    print(f"ratio: {theirs_s / ours_s:.1f}x")


if __name__ == "__main__":
    main()
