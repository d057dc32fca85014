#!/usr/bin/env bash
# Makes sure a Chromium for the Playwright tests is there: Debian's package here (Playwright's own
# browser download is blocked on these machines), Playwright's download elsewhere.
set -euo pipefail
if [ -n "${CHROMIUM_PATH:-}" ] && [ -x "$CHROMIUM_PATH" ]; then exit 0; fi
if [ -x /usr/bin/chromium ]; then exit 0; fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null; then
  echo "installing Chromium for the browser tests (apt-get, about a minute)..."
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  exit 0
fi
if .venv/bin/python -m playwright install chromium; then exit 0; fi
echo "Chromium is needed for the browser tests: install it (apt-get install chromium) or set CHROMIUM_PATH" >&2
exit 1
