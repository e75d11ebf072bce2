# sparknet — the README's two commands are `make demo` and `make test`.

GO ?= go
BIN := bin/sparknet

.PHONY: all build demo test bench clean

all: build

build:
	CGO_ENABLED=0 $(GO) build -trimpath -o $(BIN) ./cmd/sparknet

# demo installs Fashion-MNIST if missing, converts it to LMDB and trains LeNet
# on the embedded engine to >= 0.89 test accuracy.
demo: build
	./examples/lenet/train.sh

# test runs formatting and vet checks, the test suite and the race detector.
test:
	./scripts/test.sh

# bench compares our SGEMM and nets with OpenBLAS and PyTorch in one run.
bench: build
	./bench/all.sh

clean:
	rm -rf bin
