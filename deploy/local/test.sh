#!/usr/bin/env bash
# `npm test` (and CI, via .ci/run): every check of the repository, in order, stopping at the first
# failure. Steps:
#   contracts   generated code up to date + buf lint     npx nx run contracts:check
#   format      Prettier                                  npx prettier --check .
#   lint        eslint, module boundaries                 npm run lint (deploy/local/lint.sh)
#   typecheck   tsc over the whole workspace              npm run typecheck
#   unit        *.spec.ts                                 npx nx run-many -t test
#               (tools/k8s: deploy/k8s rendered, schema-validated and held to its rules; docs/runbook-k8s.md)
#   build       SWC to dist/                              npx nx run-many -t build
#   integration *.int-spec.ts against real servers: tools/e2e (process-level: contract, chaos, e2e)
#               beside the other projects, two at a time   integration() below
#   unit-node24 the unit tier again under Node 24           (deploy/local/node.sh)
#   e2e-node24  the `npm start` end-to-end smoke under Node 24
# Before the steps: npm ci when node_modules is missing or older than the lock, then deploy/local/infra.sh all (PostgreSQL,
# Redis, Mosquitto, Kafka, databases). Kafka is left running afterwards for the next run.
# The test kit gives each suite its own database and topics; the endpoints below are exported for it.
# The last line sums Jest's "Tests:" summaries of the unit and integration steps (their output is
# also kept in .local/test/), as "tests: N passed, N failed, N skipped".
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"

# shellcheck source=deploy/local/test-env.sh
source "$ROOT/deploy/local/test-env.sh"

STARTED=$SECONDS
CURRENT="setup"
RESULTS="$ROOT/.local/test"
mkdir -p "$RESULTS"
rm -f "$RESULTS"/unit.log "$RESULTS"/integration.log "$RESULTS"/integration-e2e.log "$RESULTS"/unit-node24.log "$RESULTS"/e2e-node24.log

elapsed() { local s=$(($1)); printf '%dm%02ds' $((s / 60)) $((s % 60)); }
banner() { printf '\n==== %s ====\n' "$*"; }

# Sums every Jest "Tests: 1 failed, 2 skipped, 5 passed, 8 total" line (colour codes removed).
# Cached Nx tasks replay their output, so cached suites are counted too.
tally() {
  sed $'s/\x1b\\[[0-9;]*m//g' "$@" | awk '
    /Tests:/ {
      sub(/.*Tests:/, "")
      for (i = 1; i < NF; i++) {
        if ($(i + 1) ~ /^passed/) passed += $i
        if ($(i + 1) ~ /^failed/) failed += $i
        if ($(i + 1) ~ /^skipped/) skipped += $i
      }
    }
    END { printf "tests: %d passed, %d failed, %d skipped\n", passed, failed, skipped }'
}

finish() {
  local status=$?
  if ((status == 0)); then
    banner "npm test: all steps passed in $(elapsed $((SECONDS - STARTED)))"
  else
    banner "npm test: FAILED at step '$CURRENT' (exit $status) after $(elapsed $((SECONDS - STARTED)))"
  fi
  local logs=()
  for f in "$RESULTS"/unit.log "$RESULTS"/integration.log "$RESULTS"/unit-node24.log "$RESULTS"/e2e-node24.log; do [[ -f "$f" ]] && logs+=("$f"); done
  if ((${#logs[@]})); then tally "${logs[@]}"; fi
}
trap finish EXIT

# step [--keep] <name> <command...>: runs one step under a banner; set -e stops the script if it
# fails. --keep also writes the output to .local/test/<name>.log.
step() {
  local keep=0 t0=$SECONDS
  if [[ "$1" == --keep ]]; then keep=1; shift; fi
  CURRENT="$1"; shift
  banner "$CURRENT: $*"
  if ((keep)); then "$@" 2>&1 | tee "$RESULTS/$CURRENT.log"; else "$@"; fi
  printf -- '---- %s passed (%s)\n' "$CURRENT" "$(elapsed $((SECONDS - t0)))"
}

# The integration tier. Suites share no state (each has its own databases, topic prefix and ports),
# so projects run side by side: tools/e2e, the longest and mostly waiting on the processes it
# drives, starts at once (two suites at a time: tools/e2e/jest.int.config.js); the other projects
# run two at a time beside it. e2e's output is shown after the others'. Everything was built by
# the build step.
integration() {
  local status=0
  npx nx run e2e:int-test --excludeTaskDependencies >"$RESULTS/integration-e2e.log" 2>&1 &
  local e2e=$!
  npx nx run-many -t int-test --exclude=e2e --parallel=2 --excludeTaskDependencies || status=$?
  wait "$e2e" || status=$?
  cat "$RESULTS/integration-e2e.log"
  return "$status"
}

step "install" bash deploy/local/install.sh
step "infrastructure" bash deploy/local/infra.sh all
step "contracts" npx nx run contracts:check
step "format" npx prettier --check .
step "lint" npm run lint
step "typecheck" npm run typecheck
step --keep "unit" npx nx run-many -t test
step "build" npx nx run-many -t build
step --keep "integration" integration
# The other supported runtime (package.json engines): the unit tier and the end-to-end smoke of
# `npm start` (every service built, SERVING and ready, clean stop) again under Node 24 from the npm
# registry (deploy/local/node.sh). Spawned services inherit it (process.execPath / PATH).
NODE_LTS_BIN="$(bash deploy/local/node.sh)"
step --keep "unit-node24" env PATH="$NODE_LTS_BIN:$PATH" npx nx run-many -t test --skip-nx-cache
step --keep "e2e-node24" env PATH="$NODE_LTS_BIN:$PATH" bash -c \
  'cd tools/e2e && npx jest -c jest.int.config.js test/npm-start.int-spec.ts'
