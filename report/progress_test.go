package report

import (
	"bytes"
	"os"
	"strings"
	"testing"

	"github.com/sparknet/sparknet/solver"
)

// TestProgressQuietWithoutTerminal checks that nothing is drawn to a
// non-terminal and log lines pass through unchanged.
func TestProgressQuietWithoutTerminal(t *testing.T) {
	var out bytes.Buffer
	p := NewProgress(&out, 100)
	if p.Enabled() {
		t.Fatal("enabled on a buffer")
	}
	p.OnTrain(solver.TrainRecord{Iter: 0, Images: 64})
	p.OnTest(solver.TestResult{Outputs: []solver.Output{{Name: "accuracy", Value: 0.5}}})
	p.Done()
	if out.Len() != 0 {
		t.Fatalf("wrote %q", out.String())
	}
	if w := p.LogWriter(&out); w != &out {
		t.Fatal("LogWriter must return the writer itself when disabled")
	}
	f, err := os.CreateTemp(t.TempDir(), "log")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if IsTerminal(f) {
		t.Fatal("a regular file is not a terminal")
	}
}

// TestProgressDraws forces the bar on and checks what it draws and that log
// lines erase and redraw it.
func TestProgressDraws(t *testing.T) {
	var out bytes.Buffer
	p := &Progress{out: &out, total: 200, enabled: true}
	for i := 0; i < 100; i++ {
		p.OnTrain(solver.TrainRecord{Iter: i, Images: 64, Smoothed: 0.5})
	}
	p.OnTest(solver.TestResult{Outputs: []solver.Output{{Name: "accuracy", Value: 0.8951}}})
	log := p.LogWriter(&out)
	out.Reset()
	if _, err := log.Write([]byte("Iteration 100, loss = 0.5\n")); err != nil {
		t.Fatal(err)
	}
	s := out.String()
	if !strings.HasPrefix(s, "\r\x1b[KIteration 100, loss = 0.5\n\r[") {
		t.Fatalf("log write did not erase the bar first: %q", s)
	}
	for _, want := range []string{"100/200", " 50%", "img/s", "ETA", "loss 0.5", "accuracy 0.8951"} {
		if !strings.Contains(s, want) {
			t.Errorf("bar %q lacks %q", s, want)
		}
	}
	out.Reset()
	p.Done()
	if out.String() != "\r\x1b[K" {
		t.Errorf("Done wrote %q, want the erase sequence", out.String())
	}
}
