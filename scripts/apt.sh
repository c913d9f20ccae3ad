# Sourced by scripts/system-deps.sh and scripts/bench-deps.sh: install the Debian packages named in
# the arrays `missing` (with their recommended packages) and `lean` (without), when we are root with
# apt-get; otherwise, or when apt-get fails, say so and go on. Never starts the packages' services
# (a policy-rc.d for the time of the install): the tests and the bench run their own servers.
# Usage: install_debian_packages WHO "WHAT HAPPENS WITHOUT THEM"
install_debian_packages() {
  local who=$1 without=$2
  local wanted="${missing[*]} ${lean[*]}"
  wanted="${wanted# }" && wanted="${wanted% }"
  [ -z "$wanted" ] && return 0
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "$who: not root with apt-get, so not installing $wanted; $without"
    return 0
  fi
  echo "$who: installing $wanted"
  export DEBIAN_FRONTEND=noninteractive
  local policy=/usr/sbin/policy-rc.d made_policy=0
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' > "$policy" && chmod 755 "$policy" && made_policy=1
  fi
  { apt-get update -qq \
      && { [ ${#missing[@]} -eq 0 ] || apt-get install -y -qq "${missing[@]}" >/dev/null; } \
      && { [ ${#lean[@]} -eq 0 ] || apt-get install -y -qq --no-install-recommends "${lean[@]}" >/dev/null; }; } \
    || echo "$who: apt-get could not install $wanted; $without"
  [ "$made_policy" = 1 ] && rm -f "$policy"
  return 0
}
