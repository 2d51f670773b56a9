"""UTM parameters from final URLs, and the documented defaults."""

from __future__ import annotations

import pytest

from bingbridge.metrics.utm import Utm, parse_final_url, utm_for

CASES = [
    pytest.param(
        "https://x.example/s?utm_source=news&utm_medium=email&utm_campaign=spring&utm_content=ad1&utm_term=boots",
        Utm("news", "email", "spring", "ad1", "boots"),
        id="all-five",
    ),
    pytest.param("https://x.example/boots", Utm("bing", "cpc", "Brand", "Ad title", None), id="none-defaults"),
    pytest.param("https://x.example/?utm_campaign=sale", Utm("bing", "cpc", "sale", "Ad title", None), id="partial"),
    pytest.param(
        "https://x.example/?utm_campaign={Campaign}&utm_content={AdId}",
        Utm("bing", "cpc", "{Campaign}", "{AdId}", None),
        id="placeholders-without-a-row-kept",
    ),
    pytest.param(
        "{lpurl}?utm_source=bing&utm_medium=cpc&utm_term={keyword}",
        Utm("bing", "cpc", "Brand", "Ad title", "{keyword}"),
        id="lpurl-template",
    ),
    pytest.param(
        "%7Blpurl%7D?utm_term=%7Bkeyword%7D", Utm("bing", "cpc", "Brand", "Ad title", "{keyword}"), id="encoded"
    ),
    pytest.param(
        "https://x.example/?UTM_Source=Bing&utm_medium=&ref=a#utm_campaign=frag",
        Utm("bing", "cpc", "Brand", "Ad title", None),
        id="case-insensitive-empty-is-absent-fragment-ignored",
    ),
    pytest.param(
        "https://x.example/?utm_term=trail+boots%21",
        Utm("bing", "cpc", "Brand", "Ad title", "trail boots!"),
        id="decoded",
    ),
    pytest.param(
        "https://x.example/?utm_source=a&utm_source=b", Utm("a", "cpc", "Brand", "Ad title", None), id="first-wins"
    ),
    pytest.param(None, Utm("bing", "cpc", "Brand", "Ad title", None), id="no-url"),
    pytest.param("--", Utm("bing", "cpc", "Brand", "Ad title", None), id="not-applicable"),
    pytest.param("http://[bad/?utm_source=x", Utm("x", "cpc", "Brand", "Ad title", None), id="unparsable-host"),
]  # fmt: skip


@pytest.mark.parametrize(("url", "expected"), CASES)
def test_utm_from_final_url(url: str | None, expected: Utm) -> None:
    assert utm_for(url, "Brand", "Ad title") == expected


def test_absent_parameters_stay_none_before_defaults() -> None:
    assert parse_final_url("https://x.example/") == Utm(None, None, None, None, None)


def test_no_names_means_no_campaign_or_content_default() -> None:
    assert utm_for(None, None, None) == Utm("bing", "cpc", None, None, None)


ROW = {"campaign_name": "Brand - Exact", "campaign_id": 222, "ad_group_name": "Core", "ad_group_id": 333, "ad_id": 444}


def test_placeholders_the_row_knows_are_filled_case_insensitively() -> None:
    url = "https://x.example/?utm_campaign={Campaign}&utm_content={adid}-{AdGroupId}&utm_term={AdGroup}"
    assert utm_for(url, "Brand", "Ad title", ROW) == Utm("bing", "cpc", "Brand - Exact", "444-333", "Core")


def test_placeholders_that_depend_on_the_click_stay() -> None:
    url = "{lpurl}?utm_campaign={CampaignId}&utm_term={keyword}&utm_content={_promo}"
    assert utm_for(url, "Brand", "Ad title", ROW) == Utm("bing", "cpc", "222", "{_promo}", "{keyword}")


def test_source_and_medium_are_one_whatever_their_case() -> None:
    assert utm_for("https://x.example/?utm_source=Microsoft&utm_medium=CPC", None, None)[:2] == ("microsoft", "cpc")
