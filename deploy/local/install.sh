#!/usr/bin/env bash
# Installs exactly what package-lock.json says, with `npm ci`, when node_modules is missing or
# older than the lock. Used by `npm start`, `npm test` and `npm run bench`.
# The lock must list every platform's optional binaries (swc, buf, nx, ...), or `npm ci` refuses
# it. After changing dependencies, refresh it with `npm install --package-lock-only`, which keeps
# them (a plain `npm install` over an existing node_modules can drop them on some npm versions).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
if [[ ! -f node_modules/.package-lock.json || package-lock.json -nt node_modules/.package-lock.json ]]; then
  echo "[install] npm ci" >&2
  npm ci --no-audit --no-fund
fi
