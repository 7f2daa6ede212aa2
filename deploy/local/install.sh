#!/usr/bin/env bash
# Installs exactly what package-lock.json says, with `npm ci`, when node_modules is missing or
# was installed from another lock. Used by `npm start`, `npm test` and `npm run bench`.
# It also provides what deploy/k8s is rendered and validated with (tools/k8s: a Kustomize renderer
# in TypeScript and the pinned Kubernetes/Strimzi/CloudNativePG schema packages), so no kubectl needed.
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
# Debian packages the tests use, installed once when missing: Chromium, which the dashboard's browser
# test drives headless through playwright-core (tools/e2e/test/dashboard-browser.int-spec.ts);
# strace and iproute2, with which the no-route test watches the city's connections in a network
# namespace (deploy/local/netns.sh).
missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v strace >/dev/null 2>&1 || missing+=(strace)
command -v ip >/dev/null 2>&1 || missing+=(iproute2)
if ((${#missing[@]})); then
  echo "[install] apt-get install -y ${missing[*]}" >&2
  if [[ "$(id -u)" == 0 ]]; then
    apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y "${missing[@]}"
  elif command -v sudo >/dev/null 2>&1; then
    sudo apt-get update && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y "${missing[@]}"
  else
    echo "[install] ${missing[*]} missing and this user cannot install them: the browser and no-route tests will fail" >&2
  fi
fi
