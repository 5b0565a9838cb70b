#!/usr/bin/env bash
# Makes sure the system tools named as arguments (Debian package names, e.g. openssl, lua5.4)
# and Go are present: Go builds the local control plane, openssl makes its PKI, lua5.4 runs the
# Argo CD health check in the tests. Installs missing packages when this is a root shell with
# apt-get; otherwise says what to install.
set -euo pipefail

missing=()
for tool in "$@"; do
  command -v "$tool" >/dev/null || missing+=("$tool")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "installing ${missing[*]} (Debian packages)" >&2
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    echo "tunnelkeeper needs: ${missing[*]} (Debian: apt-get install ${missing[*]})" >&2
    exit 1
  fi
fi
command -v go >/dev/null || { echo "tunnelkeeper needs Go 1.26 to build its local control plane" >&2; exit 1; }
