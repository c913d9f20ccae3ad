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
source "$(dirname "$0")/apt.sh"
install_debian_packages system-deps "the tests that need them will skip"
exit 0
