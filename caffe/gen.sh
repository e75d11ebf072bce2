#!/bin/sh
# Regenerates pb/caffe.pb.go from caffe.proto. Needs protoc (Debian package
# protobuf-compiler) and protoc-gen-go at the version in go.mod:
#   go install google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.12
# The generated file is committed, so building sparknet does not need protoc.
set -eu
cd "$(dirname "$0")"
PATH="$(go env GOPATH)/bin:$PATH"
protoc --proto_path=. \
	--go_out=pb --go_opt=paths=source_relative \
	caffe.proto
