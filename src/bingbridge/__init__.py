"""bingbridge: Microsoft Advertising API v13 over REST, conversion tracking, metrics import and an emulator."""

from __future__ import annotations

__version__ = "0.1.0"
