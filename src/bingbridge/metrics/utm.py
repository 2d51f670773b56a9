"""UTM parameters from an ad's final URL, with the defaults Amplitude documents when they are absent.

Rules (Microsoft says nothing about UTM; these are ours, written down):
- Only the query string counts (not the fragment); keys match case-insensitively (`UTM_Source` is utm_source);
  the first of repeated keys wins; `+` and percent escapes are decoded; an empty value counts as absent.
- Placeholders are kept as they are: `{lpurl}`, `{Campaign}`, `{keyword}`, `{_custom}` are filled in by Microsoft
  at click time, which an import cannot know, so `utm_campaign={Campaign}` yields "{Campaign}". A URL that is only
  a template (`{lpurl}?utm_source=bing`) is read the same way.
- Defaults: utm_source "bing", utm_medium "cpc", utm_campaign the campaign name, utm_content the ad name (its
  title); utm_term has no default (the ad performance report has no keyword).
"""

from __future__ import annotations

from functools import lru_cache
from typing import NamedTuple
from urllib.parse import parse_qsl, urlsplit

DEFAULT_SOURCE = "bing"
DEFAULT_MEDIUM = "cpc"
_KEYS = ("utm_source", "utm_medium", "utm_campaign", "utm_content", "utm_term")


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


def utm_for(url: str | None, campaign_name: str | None, ad_name: str | None) -> Utm:
    """The UTM parameters of an ad, with the documented defaults filled in."""
    parsed = parse_final_url(url)
    return Utm(
        source=parsed.source or DEFAULT_SOURCE,
        medium=parsed.medium or DEFAULT_MEDIUM,
        campaign=parsed.campaign or campaign_name,
        content=parsed.content or ad_name,
        term=parsed.term,
    )
