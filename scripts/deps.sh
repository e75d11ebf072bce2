#!/bin/sh
# deps.sh installs the Debian packages sparknet's demo and tests use, if they
# are missing: Fashion-MNIST (IDX files), real LMDB tools (to check that our
# LMDB files are what liblmdb reads and writes), and iproute2 for the cluster
# scripts. Pass extra package names as arguments (e.g. python3-torch for the
# peer benchmarks).
set -eu

want="dataset-fashion-mnist lmdb-utils $*"
missing=""
for p in $want; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
		missing="$missing $p"
	fi
done
[ -z "$missing" ] && exit 0

echo "deps: installing$missing" >&2
SUDO=""
if [ "$(id -u)" != 0 ]; then
	if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
		echo "deps: need root (or sudo) to apt-get install:$missing" >&2
		exit 1
	fi
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
