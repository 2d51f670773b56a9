#!/usr/bin/env bash
# Debian's Chromium for the dashboard's browser tests (tests/web/test_browser.py drives /usr/bin/chromium through
# Playwright; `playwright install` is never used). Idempotent: does nothing when Chromium is already there. Where
# it cannot install (not root, no apt-get), it says so and the browser tests skip with the same reason.
set -euo pipefail
CHROMIUM=${BINGBRIDGE_CHROMIUM:-/usr/bin/chromium}
if [ -x "$CHROMIUM" ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null; then
  echo "browser-deps: no $CHROMIUM and no root apt-get to install it; the browser tests will be skipped" >&2
  exit 0
fi
echo "browser-deps: installing Debian's chromium package" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq chromium fonts-dejavu-core >/dev/null
"$CHROMIUM" --version >&2
