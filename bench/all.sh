#!/bin/sh
# all.sh runs every peer comparison of the README's performance table in
# one go (make bench): SGEMM against OpenBLAS, the three nets against
# PyTorch, and LeNet's time to accuracy against PyTorch. It installs the
# peers first (python3-numpy, Debian's threaded OpenBLAS, python3-torch).
# About 20 minutes on 2 cores; run it on an otherwise idle machine.
set -eu
cd "$(dirname "$0")/.."
./scripts/deps.sh python3-numpy libopenblas0-pthread python3-torch
mkdir -p bench/out

echo "== SGEMM: sparknet vs OpenBLAS (bench/sgemm.sh)"
./bench/sgemm.sh | tee bench/out/sgemm.txt
echo
echo "== Nets, forward+backward: sparknet vs PyTorch (bench/nets.sh)"
./bench/nets.sh | tee bench/out/nets.txt
echo
echo "== LeNet on Fashion-MNIST, time to 0.89: sparknet vs PyTorch (bench/tta.sh)"
./bench/tta.sh | tee bench/out/tta.txt
