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
	"sort"
	"strconv"
	"strings"
)

// TrainPoint is one training record of a metrics log:
// {"iter":N, "wall_s":S, "lr":R, "loss":L, ...}.
type TrainPoint struct {
	// Iter is the global iteration the record was taken at.
	Iter int
	// WallS is the time in seconds since the start of solving; NaN if absent.
	WallS float64
	// LR is the learning rate; NaN if absent or null.
	LR float64
	// Loss is the training loss (Caffe's smoothed display loss); NaN if
	// absent or null.
	Loss float64
	// Extra holds the record's other numeric keys (e.g. "round", "worker",
	// "bytes"); nil when there are none.
	Extra map[string]float64
}

// TestPoint is one value of one test output.
type TestPoint struct {
	// Iter is the global iteration the test ran at.
	Iter int
	// WallS is the time in seconds since the start of solving; NaN if absent.
	WallS float64
	// Value is the output's value; NaN if it was null.
	Value float64
}

// TestSeries is the history of one output of one test net.
type TestSeries struct {
	// Net is the test net's index (Caffe's "Testing net (#i)").
	Net int
	// Output is the output blob's name, e.g. "accuracy" or "loss".
	Output string
	// Points are the values in log order.
	Points []TestPoint
}

// History is a metrics log read into typed series.
type History struct {
	// Path is the file the history was read from (or the name given to
	// ParseHistory).
	Path string
	// Train holds the training records in log order.
	Train []TrainPoint
	// Tests holds one series per (test net, output), ordered by net, then
	// output name.
	Tests []*TestSeries
	// Truncated reports that the log's last line was cut short (a run killed
	// while writing it) and was left out.
	Truncated bool
}

// LineError is an error in one line of a metrics log. It reads as one line:
// "file:line:col: message".
type LineError struct {
	// File is the log's path or name.
	File string
	// Line is the 1-based line number.
	Line int
	// Col is the 1-based byte column, 0 if unknown.
	Col int
	// Err is the underlying problem.
	Err error
}

// Error implements error.
func (e *LineError) Error() string {
	if e.Col > 0 {
		return fmt.Sprintf("%s:%d:%d: %v", e.File, e.Line, e.Col, e.Err)
	}
	return fmt.Sprintf("%s:%d: %v", e.File, e.Line, e.Err)
}

// Unwrap returns the underlying error.
func (e *LineError) Unwrap() error { return e.Err }

// metaKeys are keys of a test record that are bookkeeping, not test outputs.
var metaKeys = map[string]bool{
	"iter": true, "wall_s": true, "test_net": true,
	"round": true, "worker": true, "bytes": true, "epoch": true,
}

// ReadHistory reads a metrics log (JSON lines) from path. See ParseHistory.
func ReadHistory(path string) (*History, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return ParseHistory(f, path)
}

// ParseHistory reads a metrics log from r; name is used in error messages.
//
// Each non-blank line is a JSON object. An object with a "test_net" key is a
// test record: every key other than iter, wall_s, test_net and the
// bookkeeping keys round, worker, bytes and epoch is a test output. Any
// other object with an "iter" key is a training record. Objects without
// "iter" (headers, events) are skipped. Numeric fields may be null (NaN).
//
// A last line without its newline that is not valid JSON is the trace of a
// run killed mid-write: it is dropped and Truncated is set. Any other
// malformed line is an error naming name:line.
func ParseHistory(r io.Reader, name string) (*History, error) {
	h := &History{Path: name}
	tests := map[testKey]*TestSeries{}
	br := bufio.NewReaderSize(r, 64<<10)
	for lineNo := 1; ; lineNo++ {
		line, readErr := br.ReadBytes('\n')
		if readErr != nil && readErr != io.EOF {
			return nil, fmt.Errorf("%s:%d: %w", name, lineNo, readErr)
		}
		complete := readErr == nil
		if len(bytes.TrimSpace(line)) > 0 {
			if err := h.addLine(line, tests); err != nil {
				if !complete && !json.Valid(line) {
					h.Truncated = true
					break
				}
				var le *LineError
				if errors.As(err, &le) {
					le.File, le.Line = name, lineNo
					return nil, le
				}
				return nil, &LineError{File: name, Line: lineNo, Err: err}
			}
		}
		if !complete {
			break
		}
	}
	for _, s := range tests {
		h.Tests = append(h.Tests, s)
	}
	sort.Slice(h.Tests, func(i, j int) bool {
		a, b := h.Tests[i], h.Tests[j]
		if a.Net != b.Net {
			return a.Net < b.Net
		}
		return a.Output < b.Output
	})
	return h, nil
}

type testKey struct {
	net    int
	output string
}

// addLine parses one JSON object and appends its values to h.
func (h *History) addLine(line []byte, tests map[testKey]*TestSeries) error {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(line, &obj); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return &LineError{Col: int(se.Offset), Err: err}
		}
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return fmt.Errorf("want a JSON object, got %s", te.Value)
		}
		return err
	}
	if obj == nil {
		return errors.New("want a JSON object, got null")
	}
	rawIter, ok := obj["iter"]
	if !ok {
		return nil
	}
	iter, err := parseIter(rawIter)
	if err != nil {
		return fmt.Errorf("field \"iter\": %w", err)
	}
	wall, err := optNumber(obj, "wall_s")
	if err != nil {
		return err
	}
	if rawNet, ok := obj["test_net"]; ok {
		net, err := parseIter(rawNet)
		if err != nil {
			return fmt.Errorf("field \"test_net\": %w", err)
		}
		for k, raw := range obj {
			if metaKeys[k] {
				continue
			}
			v, isNum, err := number(raw)
			if err != nil {
				return fmt.Errorf("test output %q: %w", k, err)
			}
			if !isNum {
				continue // a string or other annotation, not an output value
			}
			key := testKey{net, k}
			s := tests[key]
			if s == nil {
				s = &TestSeries{Net: net, Output: k}
				tests[key] = s
			}
			s.Points = append(s.Points, TestPoint{Iter: iter, WallS: wall, Value: v})
		}
		return nil
	}
	p := TrainPoint{Iter: iter, WallS: wall}
	if p.LR, err = optNumber(obj, "lr"); err != nil {
		return err
	}
	if p.Loss, err = optNumber(obj, "loss"); err != nil {
		return err
	}
	for k, raw := range obj {
		switch k {
		case "iter", "wall_s", "lr", "loss":
			continue
		}
		v, isNum, err := number(raw)
		if err != nil || !isNum {
			continue // extra keys are free-form; only numbers are kept
		}
		if p.Extra == nil {
			p.Extra = map[string]float64{}
		}
		p.Extra[k] = v
	}
	h.Train = append(h.Train, p)
	return nil
}

// parseIter parses a non-negative integer (written as 100 or 100.0 or 1e2).
func parseIter(raw json.RawMessage) (int, error) {
	s := string(bytes.TrimSpace(raw))
	if n, err := strconv.Atoi(s); err == nil && n >= 0 {
		return n, nil
	}
	f, isNum, err := number(raw)
	if err != nil || !isNum || f < 0 || f != math.Trunc(f) || f > 1<<53 {
		return 0, fmt.Errorf("want a non-negative integer, got %s", truncate(s, 40))
	}
	return int(f), nil
}

// optNumber returns obj[key] as a number, NaN when the key is absent or null.
func optNumber(obj map[string]json.RawMessage, key string) (float64, error) {
	raw, ok := obj[key]
	if !ok {
		return math.NaN(), nil
	}
	v, isNum, err := number(raw)
	if err == nil && !isNum {
		err = fmt.Errorf("want a number, got %s", truncate(string(raw), 40))
	}
	if err != nil {
		return 0, fmt.Errorf("field %q: %w", key, err)
	}
	return v, nil
}

// number decodes a JSON number (or null, as NaN). isNum is false for
// strings, booleans, arrays and objects; err is set only for text that is
// not JSON at all.
func number(raw json.RawMessage) (v float64, isNum bool, err error) {
	s := bytes.TrimSpace(raw)
	if len(s) == 0 {
		return 0, false, errors.New("empty value")
	}
	switch c := s[0]; {
	case c == 'n' && string(s) == "null":
		return math.NaN(), true, nil
	case c == '-' || (c >= '0' && c <= '9'):
		f, err := strconv.ParseFloat(string(s), 64)
		if err != nil {
			return 0, false, fmt.Errorf("bad number %s", truncate(string(s), 40))
		}
		return f, true, nil
	case c == '"':
		// Tolerate writers that spell non-finite values as strings.
		var str string
		if json.Unmarshal(s, &str) == nil {
			switch strings.ToLower(str) {
			case "nan":
				return math.NaN(), true, nil
			case "inf", "+inf", "infinity":
				return math.Inf(1), true, nil
			case "-inf", "-infinity":
				return math.Inf(-1), true, nil
			}
		}
	}
	return 0, false, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// Test returns the series of one output of one test net, or nil.
func (h *History) Test(net int, output string) *TestSeries {
	for _, s := range h.Tests {
		if s.Net == net && s.Output == output {
			return s
		}
	}
	return nil
}

// Accuracy returns test net 0's accuracy series: the output named
// "accuracy", else the first output whose name contains "acc" (in name
// order), else nil.
func (h *History) Accuracy() *TestSeries {
	if s := h.Test(0, "accuracy"); s != nil {
		return s
	}
	for _, s := range h.Tests {
		if s.Net == 0 && strings.Contains(strings.ToLower(s.Output), "acc") {
			return s
		}
	}
	return nil
}

// LastIter returns the largest iteration of any record (0 if none).
func (h *History) LastIter() int {
	last := 0
	for _, p := range h.Train {
		last = max(last, p.Iter)
	}
	for _, s := range h.Tests {
		for _, p := range s.Points {
			last = max(last, p.Iter)
		}
	}
	return last
}

// Duration returns the largest wall time of any record in seconds, NaN if
// no record has one.
func (h *History) Duration() float64 {
	d := math.NaN()
	up := func(w float64) {
		if !math.IsNaN(w) && (math.IsNaN(d) || w > d) {
			d = w
		}
	}
	for _, p := range h.Train {
		up(p.WallS)
	}
	for _, s := range h.Tests {
		for _, p := range s.Points {
			up(p.WallS)
		}
	}
	return d
}

// Best returns the point with the largest value (the earliest one on
// ties); ok is false when the series has no finite value.
func (s *TestSeries) Best() (best TestPoint, ok bool) {
	for _, p := range s.Points {
		if isFinite(p.Value) && (!ok || p.Value > best.Value) {
			best, ok = p, true
		}
	}
	return best, ok
}

// Last returns the last point with a finite value; ok is false if none.
func (s *TestSeries) Last() (TestPoint, bool) {
	for i := len(s.Points) - 1; i >= 0; i-- {
		if isFinite(s.Points[i].Value) {
			return s.Points[i], true
		}
	}
	return TestPoint{}, false
}

// FirstReaching returns the first point whose value is at least target;
// ok is false if the series never reaches it.
func (s *TestSeries) FirstReaching(target float64) (TestPoint, bool) {
	for _, p := range s.Points {
		if p.Value >= target {
			return p, true
		}
	}
	return TestPoint{}, false
}

func isFinite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }
