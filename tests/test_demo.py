"""The README's main job: the demo runs every step on the emulator and serves a filled dashboard."""

from __future__ import annotations

import httpx

from bingbridge.demo import run_demo


def test_demo_runs_every_step_and_serves_a_filled_dashboard() -> None:
    lines: list[str] = []
    seen: dict[str, object] = {}

    def look(url: str, password: str) -> None:
        with httpx.Client(base_url=url, follow_redirects=False) as browser:
            assert browser.get("/").status_code in (302, 303)  # signed out: to the sign-in page
            login = browser.get("/login")
            token = login.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
            signed_in = browser.post("/login", data={"password": password, "csrf_token": token})
            assert signed_in.status_code in (302, 303), signed_in.text[:300]
            seen["metrics"] = browser.get("/metrics").text
            seen["dispatch"] = browser.get("/dispatch").text

    run_demo(lines.append, look)
    text = "\n".join(lines)
    for step in ("authorization-code flow", "GetUser", "SearchAccounts", "AddClientLinks", "raw SOAP GetUser",
                 "AddConversionGoals", "conversions upload: 50 accepted", "POST /v1/events: 400 events stored",
                 "metrics import", "dashboard: http://127.0.0.1"):  # fmt: skip
        assert step in text, step
    assert "<svg" in str(seen["metrics"]) and "sent" in str(seen["dispatch"])
