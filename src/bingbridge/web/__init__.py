"""The HTTP face of the tracking service: the ingestion API, the dispatch log, and the browser snippet."""

from __future__ import annotations

from bingbridge.web.app import create_app

__all__ = ["create_app"]
