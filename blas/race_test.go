//go:build race

package blas

// raceEnabled is set when the race detector is on: the instrumented code
// runs many times slower, so the tests use fewer and smaller cases.
const raceEnabled = true
