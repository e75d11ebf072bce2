#!/bin/sh
# test.sh is the project's test command (README, .ci/run): formatting, vet,
# the whole test suite, and the race detector on the concurrent packages.
set -eu
cd "$(dirname "$0")/.."

./scripts/deps.sh
export CI="${CI:-1}"          # tests that need installed tools fail instead of skipping

echo "== gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$unformatted" ]; then
	echo "gofmt needed on:"; echo "$unformatted"; exit 1
fi

echo "== go vet"
go vet ./...

echo "== go test"
go test -count=1 -timeout 20m ./...

echo "== go test -tags noasm (generic kernels)"
go test -count=1 -tags noasm ./blas/... ./layers

echo "== go test -race (concurrent packages)"
go test -count=1 -race -timeout 20m $(go list ./internal/... ./blas/... ./data/... ./parallel/... ./engine/... 2>/dev/null)
