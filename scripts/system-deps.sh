#!/usr/bin/env bash
# Debian packages that some tests need: nginx (the standalone example behind a real reverse proxy),
# Chromium with chromedriver (the real-browser tests), Node.js with npm (Lighthouse, which
# scripts/lighthouse.sh installs from the npm registry, audits leadkit's pages in that Chromium) and
# the PostgreSQL server (the journal on PostgreSQL: tests/postgres.py runs a throwaway cluster of its
# own with the package's programs; the cluster and the service the package sets up are never used).
# Installed when missing and we are root with apt-get; otherwise say so and go on: those tests then
# skip and print why.
set -u
missing=()
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || missing+=(nginx)
command -v chromium >/dev/null 2>&1 || [ -x /usr/bin/chromium ] || missing+=(chromium)
command -v chromedriver >/dev/null 2>&1 || [ -x /usr/bin/chromedriver ] || missing+=(chromium-driver)
command -v node >/dev/null 2>&1 || [ -x /usr/bin/node ] || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || [ -x /usr/bin/npm ] || missing+=(npm)
# Installed without its recommended packages: the server's programs are all the tests need.
lean=()
compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || lean+=(postgresql)
[ ${#missing[@]} -eq 0 ] && [ ${#lean[@]} -eq 0 ] && exit 0
wanted="${missing[*]} ${lean[*]}"
wanted="${wanted# }" && wanted="${wanted% }"
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "system-deps: not root with apt-get, so not installing $wanted; the tests that need them will skip"
  exit 0
fi
echo "system-deps: installing $wanted"
export DEBIAN_FRONTEND=noninteractive
# Keep the package scripts from starting a system nginx on port 80 or PostgreSQL on 5432: the tests
# run their own.
policy=/usr/sbin/policy-rc.d
made_policy=0
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' > "$policy" && chmod 755 "$policy" && made_policy=1
fi
{ apt-get update -qq \
    && { [ ${#missing[@]} -eq 0 ] || apt-get install -y -qq "${missing[@]}" >/dev/null; } \
    && { [ ${#lean[@]} -eq 0 ] || apt-get install -y -qq --no-install-recommends "${lean[@]}" >/dev/null; }; } \
  || echo "system-deps: apt-get could not install $wanted; the tests that need them will skip"
[ "$made_policy" = 1 ] && rm -f "$policy"
exit 0
