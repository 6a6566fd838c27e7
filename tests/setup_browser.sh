#!/usr/bin/env bash
# What tests/test_app.py's browser test needs besides pip's playwright (in the `test` extra):
# Debian's Chromium.  Installs it with apt-get when it is missing and that is possible (root, or
# password-less sudo); never fails, so a machine without it still runs every other test (the
# browser test then skips and says why).  Never runs `playwright install` (no browser download).
set -u
if [ -x /usr/bin/chromium ] || [ -x /usr/bin/chromium-browser ] || command -v chromium >/dev/null 2>&1; then
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "setup_browser: no apt-get here; the browser test will be skipped" >&2
    exit 0
fi
if [ "$(id -u)" -eq 0 ]; then
    SUDO=""
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    SUDO="sudo -n"
else
    echo "setup_browser: not root and no password-less sudo; the browser test will be skipped" >&2
    exit 0
fi
export DEBIAN_FRONTEND=noninteractive
if $SUDO apt-get update -qq && $SUDO apt-get install -y -qq chromium >/dev/null; then
    echo "setup_browser: installed $(/usr/bin/chromium --version 2>/dev/null | head -1)" >&2
else
    echo "setup_browser: apt-get could not install chromium; the browser test will be skipped" >&2
fi
exit 0
