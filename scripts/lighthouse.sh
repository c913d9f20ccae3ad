#!/usr/bin/env bash
# Lighthouse from the npm registry, for tests/test_accessibility.py: `npm install` of one exact
# version into a folder of its own (.lighthouse/ by default, ignored by git), with Debian's Node and
# npm (scripts/system-deps.sh installs them as root). Lighthouse 13 wants Node 22; Debian 12's is 18.20.
# Does nothing once that version is in place. Whatever goes wrong (no npm, no network), it says so
# and exits 0: the build goes on and the Lighthouse tests skip, saying why.
#
#   bash scripts/lighthouse.sh [FOLDER]     (LIGHTHOUSE_VERSION=12.2.3 by default)
set -u
version=${LIGHTHOUSE_VERSION:-12.2.3}
folder=${1:-.lighthouse}
stamp="$folder/.installed-$version"
cli="$folder/node_modules/lighthouse/cli/index.js"
[ -e "$stamp" ] && [ -e "$cli" ] && exit 0
skip="the Lighthouse tests will skip"
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  echo "lighthouse: Node.js or npm is missing (\`make system-deps\` as root installs them), so not installing lighthouse@$version; $skip"
  exit 0
fi
if ! node -e 'const [a, b] = process.versions.node.split(".").map(Number); process.exit(a > 18 || (a === 18 && b >= 16) ? 0 : 1)'; then
  echo "lighthouse: lighthouse@$version needs Node.js 18.16 or later, this is $(node --version); $skip"
  exit 0
fi
echo "lighthouse: installing lighthouse@$version into $folder/"
mkdir -p "$folder" || { echo "lighthouse: cannot make $folder; $skip"; exit 0; }
rm -f "$folder"/.installed-*
# A package.json of its own: npm would otherwise install into the nearest folder above that has one.
[ -e "$folder/package.json" ] || printf '{\n  "private": true,\n  "description": "Lighthouse for leadkit'"'"'s tests: scripts/lighthouse.sh"\n}\n' > "$folder/package.json"
# npm: exactly this version, no audit or funding requests, no lifecycle scripts (Lighthouse needs
# none, and Chromium is Debian's: nothing is downloaded besides the npm packages).
if (cd "$folder" && npm install --save-exact --no-audit --no-fund --ignore-scripts --loglevel=error \
      --fetch-retries=1 --fetch-retry-mintimeout=5000 --fetch-retry-maxtimeout=20000 "lighthouse@$version") && [ -e "$cli" ]; then
  touch "$stamp"
  echo "lighthouse: lighthouse@$version installed"
else
  echo "lighthouse: npm could not install lighthouse@$version (no network to the npm registry?); $skip"
fi
exit 0
