#!/usr/bin/env bash
# Debian packages that `make bench` needs: wrk (the load tool of the HTTP rows) and, with
# BENCH_PHP=1, php-fpm and php-curl (the optional comparison with a plain PHP getform.php; nginx
# comes with scripts/system-deps.sh). Installed when missing and we are root with apt-get;
# otherwise say so and go on: the bench then prints the rows that need them as skipped, and why.
set -u
missing=()
command -v wrk >/dev/null 2>&1 || missing+=(wrk)
if [ "${BENCH_PHP:-0}" = 1 ]; then
  ls /usr/sbin/php-fpm* >/dev/null 2>&1 || missing+=(php-fpm)
  php -m 2>/dev/null | grep -qx curl || missing+=(php-curl)
  command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || missing+=(nginx)
fi
lean=()
source "$(dirname "$0")/apt.sh"
install_debian_packages bench-deps "the rows that need them will be skipped"
exit 0
