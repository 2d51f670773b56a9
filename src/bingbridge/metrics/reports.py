"""One report job from submission to a downloaded file: the poll schedule and fresh URLs for expired downloads.

Polling stays inside Microsoft's guidance as its SDK applies it (reference 5.1): one second before each of the
first five checks, then every five seconds. We then back off further (10, 20, 30, 60 s, capped at a minute), since
a long backfill report can take many minutes and each poll counts against the per-minute call quota.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import IO

from bingbridge.api.client import BingAdsClient
from bingbridge.api.reporting import POLL_GENERATE_REPORT
from bingbridge.api.retry import next_step
from bingbridge.errors import ApiError, DownloadExpiredError, ReportFailedError

FIRST_POLLS = 5
FIRST_POLL_DELAY = 1.0
LATER_POLL_DELAYS = (5.0, 5.0, 10.0, 20.0, 30.0)
MAX_POLL_DELAY = 60.0
# How long we poll one job before giving up for this run (its id stays valid two days; the next run resumes it).
POLL_TIMEOUT_SECONDS = 3600.0
# How many fresh URLs we ask for when downloads keep expiring (each lives 5 minutes).
MAX_FRESH_URLS = 3


def poll_delay(polls_done: int) -> float:
    """Seconds to wait before the next status check, after `polls_done` checks."""
    if polls_done < FIRST_POLLS:
        return FIRST_POLL_DELAY
    later = polls_done - FIRST_POLLS
    return LATER_POLL_DELAYS[later] if later < len(LATER_POLL_DELAYS) else MAX_POLL_DELAY


@dataclass
class ReportJob:
    """A submitted report being polled, on the scheduler's clock (seconds slept so far)."""

    report_request_id: str
    account_id: int
    customer_id: int | None
    submitted_at: float
    polls: int = 0
    due: float = 0.0
    url: str | None = field(default=None, repr=False)

    def schedule_next(self, now: float) -> None:
        self.due = now + poll_delay(self.polls)


def check(client: BingAdsClient, job: ReportJob) -> str:
    """Poll once; returns Pending, Success (then `job.url` is set, None meaning no data) or raises
    ReportFailedError for Error."""
    status = client.reporting.poll_generate_report(
        job.report_request_id, customer_id=job.customer_id, account_id=job.account_id
    )
    job.polls += 1
    if status.status == "Error":
        raise ReportFailedError(
            operation=POLL_GENERATE_REPORT.name,
            status=200,
            tracking_id=status.tracking_id,
            message=f"report {job.report_request_id} ended with status Error; submit it again",
        )
    job.url = status.report_download_url
    return status.status


def download(client: BingAdsClient, job: ReportJob, destination: IO[bytes], sleep: Callable[[float], None]) -> None:
    """Download the job's file into `destination`, asking for a fresh URL when one expired and retrying transient
    failures as the client's one retry policy says."""
    fresh_urls = attempt = 0
    while True:
        assert job.url is not None
        destination.seek(0)
        destination.truncate()
        try:
            client.reporting.download_report(job.url, destination)
            return
        except DownloadExpiredError:
            # The 5-minute link ran out (e.g. other reports were being loaded): poll again for a new one.
            fresh_urls += 1
            if fresh_urls > MAX_FRESH_URLS or check(client, job) != "Success" or job.url is None:
                raise
        except ApiError as error:
            step = next_step(error, attempt=attempt, token_refreshed=True, settings=client.settings)
            if step is None:
                raise
            attempt += 1
            sleep(step.delay)


def report_id_cutoff(now: dt.datetime) -> dt.datetime:
    """Jobs submitted before this (naive UTC) have ids too old to poll: Microsoft keeps them two days; we leave an
    hour's margin."""
    return now.replace(tzinfo=None) - dt.timedelta(days=2) + dt.timedelta(hours=1)
