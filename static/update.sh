#!/usr/bin/env bash
# Refreshes static/vendor/ from the versions pinned in package.json/package-lock.json.
# The copied files are committed, so a fresh clone needs no npm; run this only after
# changing a version (edit package.json, `npm install` in static/, then this script).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

command -v npm >/dev/null || { echo "update.sh: npm not found (apt-get install -y npm)" >&2; exit 1; }
npm ci --no-audit --no-fund

mkdir -p vendor
nm=node_modules
cp "$nm/htmx.org/dist/htmx.min.js"       vendor/htmx.min.js
cp "$nm/@picocss/pico/css/pico.min.css"  vendor/pico.min.css
cp "$nm/@xterm/xterm/css/xterm.css"      vendor/xterm.css
# The source map is not shipped: drop the reference so browsers don't request it.
sed '/^\/\/# sourceMappingURL=/d' "$nm/@xterm/xterm/lib/xterm.js" > vendor/xterm.js
cp "$nm/uplot/dist/uPlot.iife.min.js"    vendor/uPlot.iife.min.js
cp "$nm/uplot/dist/uPlot.min.css"        vendor/uPlot.min.css

# @noble/curves and @noble/hashes are ES modules importing each other by package
# name: esbuild (a pinned devDependency) bundles what src/noble.js re-exports
# into one module that ballot.js imports from this origin.
"$nm/.bin/esbuild" src/noble.js --bundle --format=esm --minify --legal-comments=inline --outfile=vendor/noble.js

for p in htmx.org @picocss/pico @xterm/xterm uplot @noble/curves @noble/hashes; do
	printf '%s %s\n' "$p" "$(node -p "require('./$nm/$p/package.json').version")"
done > vendor/VERSIONS
cat vendor/VERSIONS
ls -l vendor
