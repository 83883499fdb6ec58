#!/usr/bin/env bash
# Prints the path of Debian's docker-registry (CNCF distribution), installing the package
# first if it is missing; the registry tests start it on loopback with basic auth.
set -euo pipefail
bin=/usr/bin/docker-registry
if [[ ! -x $bin ]]; then
  if [[ $(id -u) -ne 0 ]]; then
    echo "docker-registry is not installed; run as root or: apt-get install docker-registry" >&2
    exit 1
  fi
  echo "installing Debian's docker-registry" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y --no-install-recommends docker-registry >&2 ||
    { apt-get update >&2 && apt-get install -y --no-install-recommends docker-registry >&2; }
  # The package enables a system service; the tests start their own instance.
  systemctl disable --now docker-registry >/dev/null 2>&1 || true
fi
echo "$bin"
