#!/usr/bin/env bash
# Install the headless browser that the `browser` tests (tests/test_serve.py) drive: the distribution's
# Chromium. Playwright (a test dependency) uses this binary and never downloads a browser of its own.
# Idempotent: does nothing when a Chromium is already on PATH. Debian/Ubuntu (apt-get); elsewhere install
# Chromium by hand or point LVG_CHROMIUM at a Chromium/Chrome binary.
set -euo pipefail
for b in "${LVG_CHROMIUM:-}" chromium chromium-browser; do
  if [ -n "$b" ] && command -v "$b" >/dev/null 2>&1; then
    echo "browser: $("$b" --version 2>/dev/null | head -n 1)"
    exit 0
  fi
done
sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
$sudo apt-get update -q
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends chromium
echo "browser: $(chromium --version | head -n 1)"
