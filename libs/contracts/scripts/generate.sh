#!/usr/bin/env bash
# Regenerates libs/contracts/src from proto/: TypeScript (ts-proto, options in buf.gen.yaml) and the
# binary FileDescriptorSet (with imports) used for server reflection and RPC enumeration.
#
#   generate.sh            regenerate in place (removes the previous generated tree first)
#   generate.sh OUT_BASE   generate into OUT_BASE/libs/contracts/src instead (used by check.sh)
#
# Run from anywhere; works relative to the workspace root. Never format the output afterwards:
# check.sh compares it byte for byte.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)"
cd "$ROOT"
BUF="$ROOT/node_modules/.bin/buf"
SRC_REL="libs/contracts/src"

if [[ $# -ge 1 ]]; then
  OUT_BASE="$1"
else
  OUT_BASE="$ROOT"
  # Generated paths only; hand-written files in src (descriptors.ts, *.spec.ts) are kept.
  rm -rf "$SRC_REL/citybase" "$SRC_REL/google" "$SRC_REL/descriptor-set.binpb"
fi

mkdir -p "$OUT_BASE/$SRC_REL"
"$BUF" generate --template buf.gen.yaml --output "$OUT_BASE"
"$BUF" build --as-file-descriptor-set --output "$OUT_BASE/$SRC_REL/descriptor-set.binpb"
