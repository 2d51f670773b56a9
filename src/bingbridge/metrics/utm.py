"""UTM parameters from an ad's final URL, with the defaults Amplitude documents when they are absent.

Rules (Microsoft says nothing about UTM; these are ours, written down):
- Only the query string counts (not the fragment); keys match case-insensitively (`UTM_Source` is utm_source);
  the first of repeated keys wins; `+` and percent escapes are decoded; an empty value counts as absent.
- Placeholders Microsoft fills at click time from the ad's own entities are filled from the report row:
  `{Campaign}`, `{CampaignId}`, `{AdGroup}`, `{AdGroupId}`, `{AdId}`, `{keyword}` (names match case-insensitively,
  as Microsoft's do). Others (`{lpurl}`, `{QueryString}`, `{_custom}`, `{MatchType}`) depend on the click and stay
  as they are. A URL that is only a template (`{lpurl}?utm_source=bing`) is read the same way.
- utm_source and utm_medium are lower-cased ("Bing" and "bing" are one source); the others keep their case.
- Defaults: utm_source "bing", utm_medium "cpc", utm_campaign the campaign name, utm_content the ad name (its
  title); utm_term has no default (the ad performance report has no keyword).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache
from typing import NamedTuple
from urllib.parse import parse_qsl, urlsplit

DEFAULT_SOURCE = "bing"
DEFAULT_MEDIUM = "cpc"
_KEYS = ("utm_source", "utm_medium", "utm_campaign", "utm_content", "utm_term")
# Placeholder (lower case) -> the report row's field that fills it.
PLACEHOLDERS = {
    "campaign": "campaign_name",
    "campaignid": "campaign_id",
    "adgroup": "ad_group_name",
    "adgroupid": "ad_group_id",
    "adid": "ad_id",
    "keyword": "keyword",
}
_PLACEHOLDER = re.compile(r"\{([A-Za-z]+)\}")


class Utm(NamedTuple):
    """The five UTM parameters of one ad."""

    source: str | None
    medium: str | None
    campaign: str | None
    content: str | None
    term: str | None


@lru_cache(maxsize=65_536)
def parse_final_url(url: str | None) -> Utm:
    """The UTM parameters present in `url` (None for each one absent); cached, as ads repeat on every day."""
    found: dict[str, str] = {}
    if url and url != "--":
        try:
            query = urlsplit(url).query
        except ValueError:  # e.g. an unbalanced "[" in a host; keep what follows "?" all the same
            query = url.partition("?")[2].partition("#")[0]
        for key, value in parse_qsl(query, keep_blank_values=True):
            name = key.strip().lower()
            if name in _KEYS and name not in found and value.strip():
                found[name] = value.strip()
    return Utm(*(found.get(k) for k in _KEYS))


def fill_placeholders(value: str | None, row: Mapping[str, object]) -> str | None:
    """`value` with the placeholders the row knows filled in (see the module docstring)."""
    if value is None or "{" not in value:
        return value

    def known(match: re.Match[str]) -> str:
        field = PLACEHOLDERS.get(match.group(1).lower())
        filled = row.get(field) if field else None
        return match.group(0) if filled is None else str(filled)

    return _PLACEHOLDER.sub(known, value)


def utm_for(
    url: str | None, campaign_name: str | None, ad_name: str | None, row: Mapping[str, object] | None = None
) -> Utm:
    """The UTM parameters of an ad, placeholders filled from `row` (field -> value), the defaults filled in."""
    parsed = parse_final_url(url)
    values = row or {}
    source, medium = (fill_placeholders(v, values) for v in (parsed.source, parsed.medium))
    return Utm(
        source=(source or DEFAULT_SOURCE).lower(),
        medium=(medium or DEFAULT_MEDIUM).lower(),
        campaign=fill_placeholders(parsed.campaign, values) or campaign_name,
        content=fill_placeholders(parsed.content, values) or ad_name,
        term=fill_placeholders(parsed.term, values),
    )
