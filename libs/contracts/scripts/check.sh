#!/usr/bin/env bash
# Fails when libs/contracts/src differs from what proto/ generates (stale, missing or extra
# generated files), naming the files; then runs buf lint. Used by CI.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)"
cd "$ROOT"
SRC_REL="libs/contracts/src"
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT

bash "$ROOT/libs/contracts/scripts/generate.sh" "$TMP"

# The generated paths: everything under citybase/ and google/, plus the descriptor set.
list() {
  (cd "$1" && { find citybase google -type f 2>/dev/null || true; [[ -f descriptor-set.binpb ]] && echo descriptor-set.binpb || true; } | LC_ALL=C sort)
}
expected="$(list "$TMP/$SRC_REL")"
actual="$(list "$SRC_REL")"

stale=()
while IFS= read -r f; do
  [[ -z "$f" ]] && continue
  if [[ ! -f "$SRC_REL/$f" ]]; then
    stale+=("missing  $SRC_REL/$f")
  elif ! cmp -s "$TMP/$SRC_REL/$f" "$SRC_REL/$f"; then
    stale+=("differs  $SRC_REL/$f")
  fi
done <<< "$expected"
while IFS= read -r f; do
  [[ -z "$f" ]] && continue
  [[ -f "$TMP/$SRC_REL/$f" ]] || stale+=("extra    $SRC_REL/$f")
done <<< "$actual"

if [[ ${#stale[@]} -gt 0 ]]; then
  echo "contracts:check FAILED: generated code in $SRC_REL is stale relative to proto/." >&2
  printf '  %s\n' "${stale[@]}" >&2
  echo "Run 'npx nx run contracts:generate' (or 'npm run proto:gen') and commit the result; never edit generated files by hand." >&2
  exit 1
fi
echo "contracts:check: generated code is up to date ($(wc -l <<< "$expected") files)."

"$ROOT/node_modules/.bin/buf" lint
echo "contracts:check: buf lint passed."
