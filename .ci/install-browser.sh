#!/usr/bin/env bash
# Browser for the end-to-end tests (tests/e2e/): Debian's Chromium and fonts, and the Python
# package playwright in the project's venv when it exists (`make test` installs it anyway from
# the dev extra). Idempotent: runs `apt-get update` only when something is missing.
# Never runs `playwright install`: the tests drive /usr/bin/chromium, no downloaded browser.
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(chromium fonts-dejavu-core fonts-noto-color-emoji)
PLAYWRIGHT_REQ='playwright>=1.64.1,<1.65'
VENV="${VENV:-.venv}"

missing=()
for pkg in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$pkg")
  fi
done
if [ "${#missing[@]}" -gt 0 ]; then
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -q
  $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
test -x /usr/bin/chromium || { echo "error: /usr/bin/chromium is missing after install" >&2; exit 1; }
/usr/bin/chromium --version

if [ -x "$VENV/bin/python" ]; then
  if ! "$VENV/bin/python" -c 'import playwright.sync_api' 2>/dev/null; then
    "$VENV/bin/python" -m pip install -q "$PLAYWRIGHT_REQ"
  fi
  "$VENV/bin/python" -c 'from importlib.metadata import version; print("playwright", version("playwright"))'
fi
