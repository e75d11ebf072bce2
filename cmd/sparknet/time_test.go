package main

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"
)

func TestTimeCommand(t *testing.T) {
	var out bytes.Buffer
	old := timeStdout
	timeStdout = &out
	defer func() { timeStdout = old }()
	// LeNet's train_test net: its Data layer falls back to synthetic input.
	model := filepath.Join(referenceNets, "examples/mnist/lenet_train_test.prototxt")
	if code := run([]string{"time", "-model", model, "-iterations", "2", "-threads", "0", "-phase", "TRAIN", "-input-shape", "data=8x1x28x28,label=8"}); code != 0 {
		t.Fatalf("exit status %d", code)
	}
	s := out.String()
	for _, want := range []string{"Average time per layer:", "     conv1\tforward: ", "     conv1\tbackward: ",
		"Average Forward pass: ", "Average Backward pass: ", "Average Forward-Backward: ", "images/s (batch 8)"} {
		if !strings.Contains(s, want) {
			t.Errorf("output lacks %q:\n%s", want, s)
		}
	}
	if code := run([]string{"time", "-model", model, "-iterations", "0"}); code != 2 {
		t.Errorf("-iterations 0: exit status %d, want 2", code)
	}
}
