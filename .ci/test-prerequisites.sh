#!/usr/bin/env bash
# What the test suite needs besides the venv, for `make test` and `.ci/run` alike:
#   * PostgreSQL at 127.0.0.1:5432 (trust auth, database `test`): started when it does not answer;
#   * Debian's Chromium, fonts and the playwright package for tests/e2e (.ci/install-browser.sh).
# Either it gets them within its first seconds (plus the apt install, when one is needed), or it
# stops at once naming the one command to run. Idempotent and quiet when everything is there.
set -euo pipefail
cd "$(dirname "$0")/.."

fail() { echo "error: $1" >&2; echo "  run: $2" >&2; exit 1; }
pg_up() { (exec 3<>/dev/tcp/127.0.0.1/5432) 2>/dev/null; }

if ! pg_up; then
  if command -v pg_ctlcluster >/dev/null && [ -d /etc/postgresql ]; then
    version="$(ls /etc/postgresql | sort -V | tail -1)"
    SUDO=""
    if [ "$(id -u)" -ne 0 ]; then SUDO="sudo -n"; fi
    $SUDO pg_ctlcluster --skip-systemctl-redirect "$version" main start \
      || fail "PostgreSQL at 127.0.0.1:5432 does not answer and could not be started" \
              "sudo pg_ctlcluster --skip-systemctl-redirect $version main start"
    for _ in $(seq 1 30); do pg_up && break; sleep 1; done
  fi
  pg_up || fail "the tests need PostgreSQL at 127.0.0.1:5432 (trust auth, database test)" \
                "sudo apt-get install -y postgresql && sudo pg_ctlcluster --skip-systemctl-redirect \$(ls /etc/postgresql) main start"
fi

chromium_ok() {
  [ -x /usr/bin/chromium ] && for pkg in fonts-dejavu-core fonts-noto-color-emoji; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || return 1
  done
}
# (The playwright package comes with the dev extra that `make test` installs next.)
if ! chromium_ok; then
  if [ "$(id -u)" -ne 0 ] && ! sudo -n true 2>/dev/null; then
    fail "the browser suite needs Debian's Chromium (/usr/bin/chromium) and its fonts" \
         "sudo bash .ci/install-browser.sh"
  fi
  bash .ci/install-browser.sh >/dev/null \
    || fail "installing the browser failed (see the output above)" "sudo bash .ci/install-browser.sh"
fi
