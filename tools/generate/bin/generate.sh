#!/usr/bin/env bash
# `npm run generate -- service <name> | feature <service> <feature> [...]` (tools/generate/src/main.ts).
# Builds the generator first (SWC, under a second), so it always runs what its source says.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)"
cd "$ROOT/tools/generate"
rm -rf dist
"$ROOT/node_modules/.bin/swc" src -d dist --strip-leading-paths --config-file ../../.swcrc --quiet
cd "$ROOT"
exec node tools/generate/dist/main.js "$@"
