#!/bin/sh
# Converts CIFAR-10 (the "binary version", cifar-10-batches-bin: data_batch_1..5.bin
# and test_batch.bin) into the LMDBs and mean file cifar10_quick_train_test.prototxt
# reads, as Caffe's examples/cifar10/create_cifar10.sh does.
#
#   examples/cifar10_quick/prepare.sh /path/to/cifar-10-batches-bin
#   bin/sparknet train -solver examples/cifar10_quick/cifar10_quick_solver.prototxt
set -eu

if [ $# -ne 1 ] || [ ! -f "$1/data_batch_1.bin" ]; then
	echo "usage: $0 CIFAR10_BINARY_DIR (with data_batch_1.bin ... test_batch.bin)" >&2
	exit 2
fi
src=$(cd "$1" && pwd)
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"

mkdir -p bin
go build -o bin/sparknet ./cmd/sparknet
bin/sparknet convert cifar10 "$src" examples/cifar10_quick/cifar10
bin/sparknet compute-mean examples/cifar10_quick/cifar10_train_lmdb examples/cifar10_quick/mean.binaryproto
echo "Done. Train with: bin/sparknet train -solver examples/cifar10_quick/cifar10_quick_solver.prototxt"
