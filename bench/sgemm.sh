#!/bin/sh
# SGEMM: sparknet's blas.Sgemm against OpenBLAS (Debian's, through numpy),
# measured in the same run, shape by shape, on 1 and 2 threads.
#
#   bench/sgemm.sh                 # every shape of bench/sgemmshapes
#   bench/sgemm.sh -run 'sq|conv'  # a selection; other flags go to sgemmbench
#
# Needs Go, python3-numpy and libopenblas0-pthread (numpy alone brings the
# reference BLAS); set SGEMM_APT=1 to have this script install the latter two.
set -eu
cd "$(dirname "$0")/.."
if [ "${SGEMM_APT:-0}" = 1 ]; then
	apt-get install -y python3-numpy libopenblas0-pthread >/dev/null
fi
exec go run ./bench/sgemmbench "$@"
