#!/usr/bin/env bash
# Installs what the e2e node takes from Debian rather than building: runc (with seccomp,
# for RuntimeDefault pods), the CNI plugins (bridge, host-local, loopback in /usr/lib/cni),
# iptables (the node confines pod traffic with it) and dnsmasq (the node's cluster DNS);
# and PostgreSQL, which envexec's database-lease test starts on loopback (internal/pgtest). Each package is installed only
# when its binary is missing, with apt-get update first; nothing else is touched.
#
#   hack/tools/node-packages.sh        install what is missing (root), print nothing
set -euo pipefail

# package BINARY: the Debian package that provides BINARY.
declare -A want=(
  [/usr/sbin/runc]=runc
  [/usr/lib/cni/bridge]=containernetworking-plugins
  [/usr/sbin/iptables]=iptables
  [/usr/sbin/dnsmasq]=dnsmasq-base
)

missing=()
for bin in "${!want[@]}"; do
  [[ -x $bin ]] || missing+=("${want[$bin]}")
done
# The server's path holds its major version: any will do.
compgen -G '/usr/lib/postgresql/*/bin/postgres' >/dev/null || missing+=(postgresql)
[[ ${#missing[@]} -eq 0 ]] && exit 0

if [[ $(id -u) -ne 0 ]]; then
  echo "the e2e node needs ${missing[*]}; run as root or: apt-get install ${missing[*]}" >&2
  exit 1
fi
echo "installing Debian's ${missing[*]} for the e2e node" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update >&2
apt-get install -y --no-install-recommends "${missing[@]}" >&2
