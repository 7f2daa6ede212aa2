#!/usr/bin/env bash
# `npm run chaos` (CI runs it after `npm test`, .ci/run): the whole-city tests that take minutes each
# and do not fit npm test's time: tools/e2e/test/*.chaos-spec.ts, one at a time. Does the same set-up
# as npm test (dependencies, local servers, build), so it works on a fresh clone on its own.
# Arguments are passed to Jest, e.g. `npm run chaos -- scale-out` runs the matching file only.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
# shellcheck source=deploy/local/test-env.sh
source "$ROOT/deploy/local/test-env.sh"

bash deploy/local/install.sh
bash deploy/local/infra.sh all
npx nx run-many -t build
cd tools/e2e
npx jest -c jest.chaos.config.js --runInBand --passWithNoTests "$@"
