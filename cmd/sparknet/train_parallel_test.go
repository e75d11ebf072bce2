package main

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestTrainParallel trains with the SparkNet scheme through the CLI, checks
// the checkpoint files, and resumes from the first one to the same weights.
func TestTrainParallel(t *testing.T) {
	dir, solverPath := writeCLIFiles(t, 20)
	args := []string{"train", "-solver", solverPath, "-threads", "2", "-workers", "2", "-tau", "2", "-outer", "nesterov", "-compress", "int8"}
	if code := runCmd(args...); code != 0 {
		t.Fatalf("train -workers 2 exited %d", code)
	}
	for _, f := range []string{"cli_iter_10.parallel", "cli_iter_10.caffemodel", "cli_iter_10.solverstate", "cli_iter_20.parallel", "cli_iter_20.solverstate"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Error(err)
		}
	}
	// One record per round (10) and tests at 0, 5 (round 2-4 crosses it
	// at 6), 10, 15 (at 16) and 20.
	full := metricsLines(t, filepath.Join(dir, "cli_metrics.jsonl"))
	var train, tests []float64
	for _, m := range full {
		if _, ok := m["test_net"]; ok {
			tests = append(tests, m["iter"].(float64))
		} else {
			train = append(train, m["iter"].(float64))
		}
	}
	if fmt.Sprint(tests) != "[0 6 10 16 20]" || len(train) != 10 || train[0] != 1 || train[9] != 19 {
		t.Errorf("tests at %v, train records at %v", tests, train)
	}
	final, err := os.ReadFile(filepath.Join(dir, "cli_iter_20.caffemodel"))
	if err != nil {
		t.Fatal(err)
	}
	os.Remove(filepath.Join(dir, "cli_iter_20.caffemodel"))
	if code := runCmd(append(args, "-snapshot", filepath.Join(dir, "cli_iter_10.solverstate"))...); code != 0 {
		t.Fatalf("resume exited %d", code)
	}
	again, err := os.ReadFile(filepath.Join(dir, "cli_iter_20.caffemodel"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(final, again) {
		t.Error("the resumed parallel run ended with other weights")
	}
	// Resuming it as a plain solver works too (Caffe's view of the files).
	if code := runCmd("train", "-solver", solverPath, "-snapshot", filepath.Join(dir, "cli_iter_10.solverstate")); code != 0 {
		t.Errorf("plain resume from a parallel checkpoint exited %d", code)
	}
}

// TestTrainOneWorkerIsPlain: -workers 1 -tau 1 writes the same weights as
// plain training.
func TestTrainOneWorkerIsPlain(t *testing.T) {
	dir, solverPath := writeCLIFiles(t, 12)
	if code := runCmd("train", "-solver", solverPath, "-threads", "1"); code != 0 {
		t.Fatalf("train exited %d", code)
	}
	plain, err := os.ReadFile(filepath.Join(dir, "cli_iter_12.caffemodel"))
	if err != nil {
		t.Fatal(err)
	}
	if code := runCmd("train", "-solver", solverPath, "-threads", "2", "-workers", "1", "-tau", "1"); code != 0 {
		t.Fatalf("train -workers 1 exited %d", code)
	}
	par, err := os.ReadFile(filepath.Join(dir, "cli_iter_12.caffemodel"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(plain, par) {
		t.Error("-workers 1 -tau 1 differs from plain training")
	}
}

func TestTrainParallelUsage(t *testing.T) {
	_, solverPath := writeCLIFiles(t, 2)
	for _, args := range [][]string{
		{"train", "-solver", solverPath, "-tau", "5"},
		{"train", "-solver", solverPath, "-workers", "2", "-engine", "spark"},
		{"train", "-solver", solverPath, "-workers", "2", "-quorum", "3"},
		{"train", "-solver", solverPath, "-workers", "2", "-tau", "0"},
		{"bench"},
		{"bench", "nope"},
		{"bench", "scaling", "-solver", solverPath},
	} {
		if code := runCmd(args...); code != 2 {
			t.Errorf("%s: exit %d, want 2 (usage)", strings.Join(args, " "), code)
		}
	}
	for _, args := range [][]string{
		{"train", "-solver", solverPath, "-workers", "2", "-compress", "zip"},
		{"train", "-solver", solverPath, "-workers", "2", "-momentum-mode", "global"},
		{"train", "-solver", solverPath, "-workers", "2", "-outer", "adam"},
	} {
		if code := runCmd(args...); code != 1 {
			t.Errorf("%s: exit %d, want 1", strings.Join(args, " "), code)
		}
	}
}

func TestBenchScaling(t *testing.T) {
	dir, solverPath := writeCLIFiles(t, 20)
	out := filepath.Join(dir, "study")
	code := runCmd("bench", "scaling", "-solver", solverPath, "-workers", "1,2", "-tau", "1,2", "-latency", "0,1",
		"-target-accuracy", "0.9", "-test-interval", "2", "-threads", "1", "-out", out)
	if code != 0 {
		t.Fatalf("bench scaling exited %d", code)
	}
	b, err := os.ReadFile(filepath.Join(out, "speedup.csv"))
	if err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(bytes.NewReader(b)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	// 4 runs x 2 latencies.
	if len(rows) != 9 || rows[1][6] != "true" {
		t.Errorf("speedup.csv:\n%s", b)
	}
	for _, f := range []string{"curves.csv", "index.html", "speedup_avg_S=1s.png", "accuracy_time_S=0s.svg"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Error(err)
		}
	}
}
