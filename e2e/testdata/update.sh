#!/usr/bin/env bash
# Refreshes testdata/axe.min.js from the axe-core version pinned in ../package.json.
# The copy is committed, so the tests need no npm; run this only after changing the version.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
version=$(node -p "require('../package.json').devDependencies['axe-core']")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent "axe-core@$version" >/dev/null && tar xzf axe-core-*.tgz)
cp "$tmp/package/axe.min.js" axe.min.js
cp "$tmp/package/LICENSE" axe-LICENSE
echo "axe-core $version"
