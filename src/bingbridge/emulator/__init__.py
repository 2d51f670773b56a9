"""A local Microsoft Advertising that speaks the same protocol, for demos and tests."""

from __future__ import annotations

from bingbridge.emulator.state import EmulatorConfig

__all__ = ["EmulatorConfig"]
