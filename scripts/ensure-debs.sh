#!/usr/bin/env bash
# Installs the Debian packages given as arguments when they are not installed yet.
#   usage: scripts/ensure-debs.sh PKG...
# Checks each with dpkg first, so the common case (all present) costs a few ms and needs no network.
# Runs `apt-get update` once, and only when something is missing. Works as root (CI) or through sudo.
set -euo pipefail

[ $# -gt 0 ] || { echo "usage: $0 PKG..." >&2; exit 2; }

missing=()
for p in "$@"; do
  if [ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)" != "install ok installed" ]; then missing+=("$p"); fi
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "ensure-debs: already installed: $*"
  exit 0
fi

SUDO=
if [ "$(id -u)" != 0 ]; then
  command -v sudo >/dev/null || { echo "ensure-debs: missing ${missing[*]}; run as root or install sudo" >&2; exit 1; }
  SUDO=sudo
fi
export DEBIAN_FRONTEND=noninteractive
t0=$(date +%s)
echo "ensure-debs: installing ${missing[*]}"

# Do not let the packages start their system daemons: a system Dovecot would grab 110/143/993/995 on all
# addresses, which collides with the test peers (test/peers/peers.sh). Docker images usually ship a
# policy-rc.d that forbids service starts; add a temporary one when there is none.
POLICY=/usr/sbin/policy-rc.d
if [ ! -e "$POLICY" ]; then
  $SUDO sh -c "printf '#!/bin/sh\n# temporary, from mailport scripts/ensure-debs.sh\nexit 101\n' > $POLICY && chmod 755 $POLICY"
  trap '$SUDO rm -f "$POLICY"' EXIT
fi

# other sessions on the same machine may hold the dpkg lock for a while: wait instead of failing
APT_OPTS=(-o DPkg::Lock::Timeout=300 -q)
$SUDO apt-get "${APT_OPTS[@]}" update
$SUDO apt-get "${APT_OPTS[@]}" install -y --no-install-recommends "${missing[@]}"
echo "ensure-debs: installed ${missing[*]} in $(( $(date +%s) - t0 )) s"
