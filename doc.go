// Package sparknet trains Caffe-defined deep networks in Go: Caffe's
// prototxt, caffemodel and solverstate formats and numerics, on one machine
// or with SparkNet's parallel scheme (K workers each run tau local SGD
// iterations on their own partition of the data, then their weights are
// averaged), on an embedded engine (goroutines) or on worker processes
// coordinated through NATS JetStream.
//
// Train is the entry point; the packages beneath it are usable on their
// own: caffe (formats), nn (nets), layers, solver (Caffe's solvers), data,
// parallel (the scheme, engine-agnostic), engine/local, report. The
// sparknet command (cmd/sparknet) is a thin layer over them.
package sparknet
