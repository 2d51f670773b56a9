"""Conversion goals and UET tags of a destination's account, against the emulator."""

from __future__ import annotations

import re

from bingbridge.emulator.server import RunningEmulator
from tests.web.conftest import DashboardWorld, emulator_destination, unreachable_destination


def test_goals_and_tags_are_listed(emulated: DashboardWorld, bingads_emulator: RunningEmulator) -> None:
    destination = emulator_destination(emulated, bingads_emulator)
    page = emulated.client.get(f"/destinations/{destination}/goals")
    assert page.status_code == 200
    assert "Could not read the account" not in page.text
    assert "Create the missing offline goals" in page.text  # the default mapping names goals the account lacks


def test_creating_an_offline_goal(emulated: DashboardWorld, bingads_emulator: RunningEmulator) -> None:
    destination = emulator_destination(emulated, bingads_emulator)
    form = {"name": "Qualified lead", "revenue_type": "FixedValue", "revenue_value": "25", "currency_code": "usd",
            "count_type": "Unique", "window_days": "45"}  # fmt: skip
    answer = emulated.post(f"/destinations/{destination}/goals", form)
    assert answer.status_code == 303
    page = emulated.client.get(answer.headers["location"]).text
    assert re.search(r"Offline goal &#39;Qualified lead&#39; created \(id \d+\)\.", page)
    row = re.search(r"<strong>Qualified lead</strong>.*?</tr>", page, re.S)
    assert row is not None
    assert "OfflineConversion" in row.group(0) and "Unique" in row.group(0)
    assert "25.00 USD" in row.group(0) and "45.0 days" in row.group(0)


def test_goal_form_problems_are_shown_at_their_fields(
    emulated: DashboardWorld, bingads_emulator: RunningEmulator
) -> None:
    destination = emulator_destination(emulated, bingads_emulator)
    answer = emulated.post(f"/destinations/{destination}/goals", {"name": "", "window_days": "120"})
    assert answer.status_code == 422
    assert '<p class="field-error" id="window-error">give 1 to 90 days</p>' in answer.text
    answer = emulated.post(f"/destinations/{destination}/goals", {"name": ""})
    assert answer.status_code == 422
    assert '<p class="field-error" id="goal-name-error">required</p>' in answer.text


def test_creating_the_missing_mapped_goals(emulated: DashboardWorld, bingads_emulator: RunningEmulator) -> None:
    destination = emulator_destination(emulated, bingads_emulator)
    answer = emulated.post(f"/destinations/{destination}/goals/mapped")
    page = emulated.client.get(answer.headers["location"]).text
    assert "Created offline goals: Add to Cart, Lead, Purchase, Sign Up, Subscribe." in page
    assert "Create the missing offline goals" not in page
    again = emulated.client.get(emulated.post(f"/destinations/{destination}/goals/mapped").headers["location"])
    assert "Every mapped goal exists already." in again.text


def test_creating_a_uet_tag_shows_its_tracking_script(
    emulated: DashboardWorld, bingads_emulator: RunningEmulator
) -> None:
    destination = emulator_destination(emulated, bingads_emulator)
    answer = emulated.post(f"/destinations/{destination}/uet-tags", {"tag_name": "Web shop tag"})
    assert answer.status_code == 201
    created = re.search(r"UET tag “Web shop tag” created \(id (\d+)\)", answer.text)
    assert created is not None
    script = re.search(r'<code id="new-tag-script">(.*?)</code>', answer.text, re.S)
    assert script is not None and "bat.bing.com" in script.group(1) and created.group(1) in script.group(1)
    assert f'id="tag-script-{created.group(1)}"' in answer.text  # and listed with the account's tags


def test_a_goals_page_shows_why_the_account_cannot_be_read(signed_in: DashboardWorld) -> None:
    destination = unreachable_destination(signed_in)
    page = signed_in.client.get(f"/destinations/{destination}/goals").text
    assert "Could not read the account:" in page
