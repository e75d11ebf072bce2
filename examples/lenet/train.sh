#!/bin/sh
# Trains LeNet on Fashion-MNIST with Caffe's lenet_solver settings (the
# README's demo): prepares the data if needed (prepare.sh), then trains.
# Extra arguments go to 'sparknet train' (e.g. -threads 2, or
# -snapshot examples/lenet/lenet_iter_5000.solverstate to resume).
set -eu

root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
./examples/lenet/prepare.sh
exec bin/sparknet train -solver examples/lenet/lenet_solver.prototxt "$@"
