"""The asynchronous Reporting service against the emulator: submit, poll, download."""

from __future__ import annotations

import datetime as dt
import io
import zipfile

from bingbridge.api import reporting as rep
from bingbridge.api.client import AsyncBingAdsClient
from bingbridge.auth.tokens import MemoryTokenStore
from bingbridge.settings import Settings


async def test_async_submit_poll_download(bingads_settings: Settings) -> None:
    async with AsyncBingAdsClient(bingads_settings, token_store=MemoryTokenStore()) as client:
        account = (await client.customer_management.get_accounts_info())[0].id
        assert account is not None
        today = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1)
        request = rep.report_request([account], today - dt.timedelta(days=3), today, today=today)
        report_id = await client.reporting.submit_generate_report(request, today=today)
        status = await client.reporting.poll_generate_report(report_id, account_id=account)
        while status.status == "Pending":
            status = await client.reporting.poll_generate_report(report_id, account_id=account)
        assert status.status == "Success" and status.report_download_url
        payload = io.BytesIO()
        assert await client.reporting.download_report(status.report_download_url, payload) > 0
    assert zipfile.ZipFile(payload).namelist()[0].endswith(".csv")
