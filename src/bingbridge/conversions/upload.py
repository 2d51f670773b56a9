"""The upload pipeline: validate every row, send valid ones in batches of 1,000, account for every row.

A row ends in exactly one state: `accepted`, `rejected_local` (never sent: the reason is ours), `rejected_remote`
(Microsoft refused it: its code) or `not_sent` (its batch could not be delivered, e.g. revoked credentials).
Nothing is dropped silently: the per-row outcomes always cover every input row.
"""

from __future__ import annotations

import csv
import json
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from bingbridge.api.campaign_management import MAX_CONVERSIONS_PER_CALL, ItemResult
from bingbridge.api.client import BingAdsClient
from bingbridge.conversions.delivery import Batcher, Delivery
from bingbridge.conversions.goal_log import GoalLog
from bingbridge.conversions.prepare import PrepareOptions, prepare_adjustment, prepare_conversion
from bingbridge.conversions.rows import InputRow, RowSource
from bingbridge.errors import ApiError, FieldProblem

Status = Literal["accepted", "rejected_local", "rejected_remote", "not_sent"]
# Microsoft: wait 2 hours after creating an offline goal before uploading to it (5615).
GOAL_SETTLE_TIME = timedelta(hours=2)


@dataclass(frozen=True)
class RowOutcome:
    """What happened to one input row; `field` uses bingbridge's snake_case names."""

    row: int
    status: Status
    reason: str | None = None
    field: str | None = None
    code: int | None = None
    error_code: str | None = None
    batch: int | None = None
    tracking_id: str | None = None


@dataclass
class UploadResult:
    """Every row's outcome, the number of upload calls made, and warnings about the upload as a whole."""

    outcomes: list[RowOutcome] = field(default_factory=list)
    calls: int = 0
    warnings: list[str] = field(default_factory=list)
    dry_run: bool = False

    def count(self, status: Status) -> int:
        return sum(1 for o in self.outcomes if o.status == status)

    @property
    def ok(self) -> bool:
        return all(o.status == "accepted" for o in self.outcomes)

    def summary(self) -> dict[str, Any]:
        counts = Counter(o.status for o in self.outcomes)
        return {
            "rows": len(self.outcomes),
            "accepted": counts["accepted"],
            "rejected_before_send": counts["rejected_local"],
            "rejected_by_microsoft": counts["rejected_remote"],
            "not_sent": counts["not_sent"],
            "upload_calls": self.calls,
            "dry_run": self.dry_run,
            "warnings": self.warnings,
        }


def _local(row: int, problems: Sequence[FieldProblem]) -> RowOutcome:
    first = problems[0]
    reason = "; ".join(f"{p.field}: {p.message}" for p in problems)
    return RowOutcome(row, "rejected_local", reason, field=first.field)


def _settled(rows: list[int], delivery: Delivery, number: int) -> list[RowOutcome]:
    """Row outcomes of one call, from the batch sender's item outcomes."""
    found = []
    for row, item in zip(rows, delivery.outcomes, strict=True):
        if item.status == "accepted":
            found.append(RowOutcome(row, "accepted", batch=number, tracking_id=item.tracking_id))
            continue
        first = (
            item.errors[0]
            if item.errors
            else (item.error.errors[0] if isinstance(item.error, ApiError) and item.error.errors else None)
        )
        found.append(
            RowOutcome(
                row,
                "rejected_remote" if item.status == "refused" else "not_sent",
                item.reason,
                field=first.field_path if first and item.status == "refused" else None,
                code=first.code if first else None,
                error_code=first.error_code if first else None,
                batch=number,
                tracking_id=item.tracking_id,
            )
        )
    return found


def _run(
    source: RowSource,
    prepare: Callable[[InputRow, PrepareOptions], Any],
    send: Callable[[list[Any]], list[ItemResult[None]]] | None,
    options: PrepareOptions,
    progress: Callable[[int], None] | None,
    on_valid: Callable[[Any], None] | None = None,
) -> UploadResult:
    result = UploadResult(dry_run=send is None)

    def settle(rows: list[int], delivery: Delivery, number: int) -> None:
        result.outcomes.extend(_settled(rows, delivery, number))
        if progress:
            progress(len(rows))

    batcher = Batcher(send, MAX_CONVERSIONS_PER_CALL, settle) if send is not None else None
    for row in source.rows:
        prepared = prepare(row, options)
        if isinstance(prepared, list):
            result.outcomes.append(_local(row.number, prepared))
            if progress:
                progress(1)
            continue
        if on_valid:
            on_valid(prepared)
        if batcher is None:
            result.outcomes.append(RowOutcome(row.number, "accepted", "dry run: valid, not sent"))
        else:
            batcher.add(row.number, prepared)
    if batcher is not None:
        batcher.flush()
        result.calls = batcher.calls
    result.outcomes.sort(key=lambda o: o.row)
    result.warnings += source.warnings
    return result


def _offline_goals(client: BingAdsClient, account_id: int | None) -> dict[str, int | None]:
    answer = client.campaign_management.get_conversion_goals(["OfflineConversion"], account_id=account_id)
    return {g.name: g.id for g in answer.conversion_goals or [] if g is not None and g.name}


def upload_conversions(
    client: BingAdsClient | None,
    source: RowSource,
    options: PrepareOptions,
    *,
    account_id: int | None = None,
    goal_log: GoalLog | None = None,
    progress: Callable[[int], None] | None = None,
) -> UploadResult:
    """Validate and upload conversions; `client=None` is a dry run that makes no call at all.

    Exactly ceil(valid rows / 1000) ApplyOfflineConversions calls are made (one more call, GetConversionGoalsByIds,
    reads the account's offline goals once to warn about names that match none).
    """
    names: Counter[str] = Counter()
    send = None
    known: dict[str, int | None] = {}
    account = account_id
    if client is not None:
        known = _offline_goals(client, account_id)
        account = account_id or client.settings.account_id

        def send(items: list[Any]) -> list[ItemResult[None]]:
            return client.campaign_management.apply_offline_conversions(items, account_id=account_id)

    result = _run(
        source, prepare_conversion, send, options, progress, lambda c: names.update([c.conversion_name or ""])
    )
    if client is not None:
        result.warnings += _goal_warnings(names, known, goal_log, account, options.now)
    return result


def _goal_warnings(
    names: Counter[str], known: dict[str, int | None], goal_log: GoalLog | None, account: int | None, now: datetime
) -> list[str]:
    warnings = []
    for name, rows in sorted(names.items()):
        if name not in known:
            near = [k for k in known if k.lower() == name.lower()]
            hint = f" (did you mean {near[0]!r}? names must match exactly)" if near else ""
            warnings.append(
                f"{rows} row(s) use ConversionName {name!r}, which matches no offline conversion goal of account "
                f"{account}{hint}: Microsoft may refuse them or accept them without counting them"
            )
            continue
        created = goal_log.created_at(account, name) if goal_log and account else None
        if created is not None and now - created < GOAL_SETTLE_TIME:
            warnings.append(
                f"goal {name!r} was created at {created.isoformat(timespec='minutes')}, less than 2 hours ago: "
                "Microsoft may not apply conversions uploaded now (5615); upload again after it settles"
            )
    return warnings


def upload_adjustments(
    client: BingAdsClient | None,
    source: RowSource,
    options: PrepareOptions,
    *,
    account_id: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> UploadResult:
    """Validate and send Restate/Retract adjustments in batches of 1,000, with per-row outcomes."""
    send = None
    if client is not None:

        def send(items: list[Any]) -> list[ItemResult[None]]:
            return client.campaign_management.apply_offline_conversion_adjustments(items, account_id=account_id)

    return _run(source, prepare_adjustment, send, options, progress)


def write_report(result: UploadResult, path: Path) -> None:
    """Every row's outcome as CSV (by default) or JSON (for a .json path)."""
    rows = [asdict(o) for o in result.outcomes]
    if path.suffix.lower() == ".json":
        path.write_text(json.dumps({"summary": result.summary(), "rows": rows}, indent=2))
        return
    with path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(RowOutcome.__dataclass_fields__))
        writer.writeheader()
        writer.writerows(rows)
