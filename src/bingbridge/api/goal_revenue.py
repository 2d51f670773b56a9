"""Microsoft's rules for a conversion goal's revenue, the one copy the client and the emulator both apply.

From the ConversionGoalRevenue docs: FixedValue needs a Value, NoValue takes none, VariableValue may carry a
default Value; the CurrencyCode is required for Event, InStoreTransaction, OfflineConversion and Url goals at
Customer scope with FixedValue or VariableValue revenue, and cannot be set for AppInstall, Duration and
PagesViewedPerVisit goals (the emulator treats AppDownload like AppInstall). An Account-scope goal without a
currency reports in the account's billing currency.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bingbridge.api.models import campaign as m

# Goal types that exist only at Customer scope, with Microsoft's code for another scope. AppDownload is taken to
# follow AppInstall (its docs say nothing).
CUSTOMER_ONLY = {"AppInstall": 5348, "AppDownload": 5348, "InStoreTransaction": 5357}
# No VariableValue revenue and no currency for these.
FIXED_REVENUE_ONLY = frozenset({"Duration", "PagesViewedPerVisit", "AppInstall", "AppDownload"})
# These need a currency at Customer scope when their revenue has a value.
CURRENCY_AT_CUSTOMER_SCOPE = frozenset({"Event", "InStoreTransaction", "OfflineConversion", "Url"})
VALUED = frozenset({"FixedValue", "VariableValue"})
CURRENCY = re.compile(r"[A-Z]{3}")  # an ISO 4217-shaped code, upper case as Microsoft lists them


@dataclass(frozen=True)
class RevenueProblem:
    """A broken revenue rule: Microsoft's code, the ConversionGoalRevenue member at fault and what to do."""

    code: int
    member: str  # "type", "value" or "currency_code"
    message: str

    @property
    def wire_member(self) -> str:
        """The member as Microsoft names it in a FieldPath, e.g. `Revenue.CurrencyCode`."""
        return "Revenue." + "".join(part.title() for part in self.member.split("_"))


def default_scope(goal_type: str) -> str:
    """The scope Microsoft gives a new goal that names none."""
    return "Customer" if goal_type in CUSTOMER_ONLY else "Account"


def revenue_problem(
    goal_type: str, scope: str | None, revenue: m.ConversionGoalRevenue | None
) -> RevenueProblem | None:
    """The first revenue rule the goal breaks, or None. `scope` None (an update that leaves it) skips scope rules."""
    if revenue is None:
        return None
    kind = revenue.type or "NoValue"
    if kind == "VariableValue" and goal_type in FIXED_REVENUE_ONLY:
        return RevenueProblem(5332, "type", f"{goal_type} goals take FixedValue or NoValue revenue")
    if revenue.value is not None and revenue.value < 0:
        return RevenueProblem(5333, "value", "must be 0 or more")
    if kind == "FixedValue" and revenue.value is None:
        return RevenueProblem(5333, "value", "FixedValue revenue needs a value")
    # Microsoft: "If the type is NoValue then you must not specify the Value"; 0 counts as no value.
    if kind == "NoValue" and revenue.value:
        return RevenueProblem(5333, "value", "must be empty for NoValue revenue")
    if revenue.currency_code:
        if goal_type in FIXED_REVENUE_ONLY:
            return RevenueProblem(5352, "currency_code", f"{goal_type} goals take no revenue currency; leave it empty")
        if not CURRENCY.fullmatch(revenue.currency_code):
            return RevenueProblem(5351, "currency_code", f"is not a currency code: {revenue.currency_code!r}")
    elif kind in VALUED and scope == "Customer" and goal_type in CURRENCY_AT_CUSTOMER_SCOPE:
        return RevenueProblem(5355, "currency_code", f"{goal_type} goals at Customer scope need a revenue currency")
    return None
