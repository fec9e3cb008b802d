#!/usr/bin/env bash
# Install Debian's chromium for the report's browser test (backend/tests/report), only when it is
# missing. Quiet: prints nothing when chromium is already there. Needs root (or sudo) and apt.
set -euo pipefail
if command -v chromium >/dev/null 2>&1; then
  exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  SUDO="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq >/dev/null
$SUDO apt-get install -y -qq --no-install-recommends chromium >/dev/null
command -v chromium >/dev/null 2>&1 || { echo "install-browser.sh: chromium still not found after apt-get install" >&2; exit 1; }
