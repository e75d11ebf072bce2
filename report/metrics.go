// Package report records and shows how a training run goes: a metrics log
// in JSON lines, and a progress line on a terminal.
package report

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"sync"

	"github.com/sparknet/sparknet/solver"
)

// MetricsPath returns the default metrics file of a run: beside the
// snapshots, <snapshot_prefix>_metrics.jsonl (metrics.jsonl without a
// prefix).
func MetricsPath(snapshotPrefix string) string {
	if snapshotPrefix == "" {
		return "metrics.jsonl"
	}
	return snapshotPrefix + "_metrics.jsonl"
}

// Metrics writes a run's records as JSON lines, one object per line:
//
//	{"iter":100,"wall_s":1.234,"lr":0.00992565,"loss":0.312}
//	{"iter":500,"wall_s":6.1,"test_net":0,"accuracy":0.8174,"loss":0.52}
//
// A train record comes per iteration, with "smoothed_loss" added when the
// solver averages the displayed loss over several iterations; a test record
// has one key per test output (element k of a multi-element output is
// "name[k]"). wall_s counts from the start of solving. It implements
// solver.Observer; it is safe for concurrent use.
type Metrics struct {
	mu  sync.Mutex
	f   *os.File
	w   *bufio.Writer
	err error
	buf []byte
}

// OpenMetrics opens the metrics file at path. With resumeIter <= 0 the file is
// created or truncated. When resuming at iteration resumeIter, the records of
// the earlier run from iteration resumeIter on are dropped and new records
// are appended, so the file reads as if the run had never stopped.
func OpenMetrics(path string, resumeIter int) (*Metrics, error) {
	var keep []byte
	if resumeIter > 0 {
		old, err := os.ReadFile(path)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, err
		}
		keep = recordsBefore(old, resumeIter)
	}
	if dir := filepath.Dir(path); dir != "." {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, err
		}
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, err
	}
	m := &Metrics{f: f, w: bufio.NewWriterSize(f, 64<<10)}
	if _, err := m.w.Write(keep); err != nil {
		f.Close()
		return nil, err
	}
	return m, nil
}

// NewMetrics writes records to w (not closed by Close).
func NewMetrics(w io.Writer) *Metrics {
	return &Metrics{w: bufio.NewWriter(w)}
}

// recordsBefore keeps the lines of data whose "iter" is below iter.
func recordsBefore(data []byte, iter int) []byte {
	var out []byte
	for len(data) > 0 {
		line := data
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line, data = data[:i+1], data[i+1:]
		} else {
			data = nil
		}
		var r struct {
			Iter *int `json:"iter"`
		}
		if json.Unmarshal(line, &r) != nil || r.Iter == nil || *r.Iter >= iter {
			continue
		}
		out = append(out, bytes.TrimRight(line, "\n")...)
		out = append(out, '\n')
	}
	return out
}

// OnTrain writes a train record.
func (m *Metrics) OnTrain(r solver.TrainRecord) {
	m.mu.Lock()
	defer m.mu.Unlock()
	b := m.start(r.Iter, r.Wall.Seconds())
	b = appendKey(b, "lr", float64(r.LR), 32)
	b = appendKey(b, "loss", float64(r.Loss), 32)
	if r.Smoothed != r.Loss {
		b = appendKey(b, "smoothed_loss", float64(r.Smoothed), 32)
	}
	m.finish(b)
}

// OnTest writes a test record and flushes the file.
func (m *Metrics) OnTest(r solver.TestResult) {
	m.mu.Lock()
	defer m.mu.Unlock()
	b := m.start(r.Iter, r.Wall.Seconds())
	b = append(b, `,"test_net":`...)
	b = strconv.AppendInt(b, int64(r.Net), 10)
	for _, o := range r.Outputs {
		b = appendKey(b, o.Name, float64(o.Value), 32)
	}
	if r.HasLoss {
		if _, dup := r.Value("test_loss"); !dup {
			b = appendKey(b, "test_loss", float64(r.Loss), 32)
		}
	}
	m.finish(b)
	m.flush()
}

func (m *Metrics) start(iter int, wall float64) []byte {
	b := append(m.buf[:0], `{"iter":`...)
	b = strconv.AppendInt(b, int64(iter), 10)
	b = append(b, `,"wall_s":`...)
	b = strconv.AppendFloat(b, math.Round(wall*1e4)/1e4, 'f', -1, 64)
	return b
}

func appendKey(b []byte, key string, v float64, bits int) []byte {
	b = append(b, ',')
	kb, _ := json.Marshal(key)
	b = append(b, kb...)
	b = append(b, ':')
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return append(b, "null"...)
	}
	return strconv.AppendFloat(b, v, 'g', -1, bits)
}

func (m *Metrics) finish(b []byte) {
	b = append(b, '}', '\n')
	m.buf = b
	if m.err == nil {
		_, m.err = m.w.Write(b)
	}
}

func (m *Metrics) flush() {
	if m.err == nil {
		m.err = m.w.Flush()
	}
}

// Flush writes buffered records to the file.
func (m *Metrics) Flush() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.flush()
	return m.err
}

// Close flushes and closes the file; it returns the first write error.
func (m *Metrics) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.flush()
	if m.f != nil {
		if err := m.f.Close(); err != nil && m.err == nil {
			m.err = err
		}
		m.f = nil
	}
	if m.err != nil {
		return fmt.Errorf("metrics: %w", m.err)
	}
	return nil
}
