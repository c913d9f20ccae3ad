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
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "bench-deps: not root with apt-get, so not installing ${missing[*]}; the rows that need them will be skipped"
  exit 0
fi
echo "bench-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# Keep the package scripts from starting a system php-fpm or nginx: the bench runs its own.
policy=/usr/sbin/policy-rc.d
made_policy=0
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' > "$policy" && chmod 755 "$policy" && made_policy=1
fi
{ apt-get update -qq && apt-get install -y -qq "${missing[@]}" >/dev/null; } \
  || echo "bench-deps: apt-get could not install ${missing[*]}; the rows that need them will be skipped"
[ "$made_policy" = 1 ] && rm -f "$policy"
exit 0
