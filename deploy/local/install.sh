#!/usr/bin/env bash
# Installs exactly what package-lock.json says, with `npm ci`, when node_modules is missing or
# was installed from another lock. Used by `npm start`, `npm test` and `npm run bench`.
# The lock must list every platform's optional binaries (swc, buf, nx, ...), or `npm ci` refuses
# it. After changing dependencies, refresh it with `npm install --package-lock-only`, which keeps
# them (a plain `npm install` over an existing node_modules can drop them on some npm versions).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
# The stamp holds the hash of the lock npm ci last installed. (Comparing against npm's own
# node_modules/.package-lock.json is not enough: `npm install --package-lock-only` rewrites that
# file too, so a refreshed lock looked installed while node_modules still lacked its new packages.)
stamp=node_modules/.citybase-installed-lock
want="$(sha256sum package-lock.json | cut -d' ' -f1)"
if [[ ! -f "$stamp" || "$(cat "$stamp")" != "$want" ]]; then
  echo "[install] npm ci" >&2
  npm ci --no-audit --no-fund
  echo "$want" >"$stamp"
fi
# Debian's Chromium, which the dashboard's browser test drives headless through playwright-core
# (tools/e2e/test/dashboard-browser.int-spec.ts). Not on a fresh machine: install it once.
if ! command -v chromium >/dev/null 2>&1; then
  echo "[install] apt-get install -y chromium" >&2
  if [[ "$(id -u)" == 0 ]]; then
    apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium
  elif command -v sudo >/dev/null 2>&1; then
    sudo apt-get update && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y chromium
  else
    echo "[install] chromium is missing and this user cannot install it: the browser test will fail" >&2
  fi
fi
