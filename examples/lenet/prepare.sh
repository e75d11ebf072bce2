#!/bin/sh
# Prepares LeNet on Fashion-MNIST: builds sparknet, installs Debian's
# dataset-fashion-mnist if it is missing (scripts/deps.sh), and converts it
# into the two LMDBs that lenet_train_test.prototxt reads, as Caffe's
# convert_mnist_data would. Run from anywhere; paths are resolved against the
# repository root.
#
#   examples/lenet/prepare.sh
#   bin/sparknet train -solver examples/lenet/lenet_solver.prototxt
set -eu

root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
data=${FASHION_MNIST_DIR:-/usr/share/datasets/fashion-mnist}

mkdir -p bin
CGO_ENABLED=0 go build -trimpath -o bin/sparknet ./cmd/sparknet

if [ ! -f "$data/train-images-idx3-ubyte.gz" ]; then
	if [ "$data" != /usr/share/datasets/fashion-mnist ]; then
		echo "prepare.sh: no Fashion-MNIST IDX files in $data" >&2
		exit 1
	fi
	./scripts/deps.sh
fi

for split in train:train t10k:test; do
	src=${split%%:*}
	dst=examples/lenet/fmnist_${split##*:}_lmdb
	if [ -d "$dst" ]; then
		echo "$dst exists; keeping it (delete it to convert again)"
		continue
	fi
	bin/sparknet convert mnist "$data/$src-images-idx3-ubyte.gz" "$data/$src-labels-idx1-ubyte.gz" "$dst"
done
