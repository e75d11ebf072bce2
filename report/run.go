package report

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// Run is one training run as found on disk: its metrics history and what
// lies beside it in the run directory.
type Run struct {
	// Name labels the run's curves and sections in plots and reports. LoadRun
	// sets it to the run directory's base name; callers may change it.
	Name string
	// Dir is the run directory.
	Dir string
	// MetricsPath is the metrics log that History was read from.
	MetricsPath string
	// History is the metrics log.
	History *History
	// Options is the content of the directory's run.json (the run's options:
	// workers, tau, engine, ...); nil when there is none.
	Options map[string]any
	// Solver is the path of a solver prototxt copied into the directory
	// (a *solver*.prototxt file), "" if none.
	Solver string
	// Snapshots are the weights snapshots in the directory, by iteration.
	Snapshots []Snapshot
}

// Snapshot is one <prefix>_iter_N.caffemodel in a run directory.
type Snapshot struct {
	// Iter is N.
	Iter int
	// Path is the .caffemodel file.
	Path string
	// State is the matching .solverstate file, "" if absent.
	State string
}

// LoadRun loads a run from a run directory or from a metrics file. A
// directory must hold exactly one *metrics*.jsonl file. Given a file, the
// run directory is the file's directory.
func LoadRun(path string) (*Run, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	r := &Run{}
	if fi.IsDir() {
		r.Dir = path
		matches, err := filepath.Glob(filepath.Join(path, "*metrics*.jsonl"))
		if err != nil {
			return nil, err
		}
		switch len(matches) {
		case 0:
			return nil, fmt.Errorf("%s: no metrics log (*metrics*.jsonl) in the directory", path)
		case 1:
			r.MetricsPath = matches[0]
		default:
			names := make([]string, len(matches))
			for i, m := range matches {
				names[i] = filepath.Base(m)
			}
			return nil, fmt.Errorf("%s: several metrics logs (%s); name one", path, strings.Join(names, ", "))
		}
	} else {
		r.MetricsPath = path
		r.Dir = filepath.Dir(path)
	}
	r.Name = runName(r.Dir, r.MetricsPath, fi.IsDir())
	if r.History, err = ReadHistory(r.MetricsPath); err != nil {
		return nil, err
	}
	if err := r.loadOptions(); err != nil {
		return nil, err
	}
	if err := r.findFiles(); err != nil {
		return nil, err
	}
	return r, nil
}

// runName names a run after its directory; a metrics file given directly
// whose directory is "." is named after the file.
func runName(dir, metrics string, isDir bool) string {
	if abs, err := filepath.Abs(dir); err == nil {
		dir = abs
	}
	name := filepath.Base(dir)
	if !isDir && (name == "/" || name == "." || name == "") {
		name = strings.TrimSuffix(filepath.Base(metrics), filepath.Ext(metrics))
	}
	return name
}

func (r *Run) loadOptions() error {
	path := filepath.Join(r.Dir, "run.json")
	data, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if err := json.Unmarshal(data, &r.Options); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

var snapshotRE = regexp.MustCompile(`_iter_(\d+)\.caffemodel$`)

func (r *Run) findFiles() error {
	entries, err := os.ReadDir(r.Dir)
	if err != nil {
		return err
	}
	have := map[string]bool{}
	for _, e := range entries {
		have[e.Name()] = true
	}
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() {
			continue
		}
		if r.Solver == "" && strings.HasSuffix(name, ".prototxt") && strings.Contains(name, "solver") {
			r.Solver = filepath.Join(r.Dir, name)
		}
		m := snapshotRE.FindStringSubmatch(name)
		if m == nil {
			continue
		}
		iter, err := strconv.Atoi(m[1])
		if err != nil {
			continue
		}
		s := Snapshot{Iter: iter, Path: filepath.Join(r.Dir, name)}
		if state := strings.TrimSuffix(name, ".caffemodel") + ".solverstate"; have[state] {
			s.State = filepath.Join(r.Dir, state)
		}
		r.Snapshots = append(r.Snapshots, s)
	}
	sort.Slice(r.Snapshots, func(i, j int) bool { return r.Snapshots[i].Iter < r.Snapshots[j].Iter })
	return nil
}

// Summary is the headline numbers of a run.
type Summary struct {
	// Name is the run's name.
	Name string
	// Iterations is the last iteration logged.
	Iterations int
	// TotalS is the wall time of the last record in seconds (NaN if unknown).
	TotalS float64
	// FinalLoss is the last finite training loss (NaN if none).
	FinalLoss float64
	// AccuracyOutput names the test output the accuracy figures come from;
	// "" when the run has no test accuracy (the fields below are then unset).
	AccuracyOutput string
	// Best is the test point with the highest accuracy.
	Best TestPoint
	// Final is the last test point.
	Final TestPoint
	// Target is the accuracy asked for; 0 when none was.
	Target float64
	// Reached reports whether the accuracy reached Target; TargetAt is the
	// first test point that did.
	Reached  bool
	TargetAt TestPoint
	// ImagesPerS is the training throughput, 0 when unknown. It is known
	// when run.json gives "batch_size" (per worker, as in the prototxt) and
	// optionally "workers" (default 1): iterations x batch x workers / TotalS.
	ImagesPerS float64
}

// Summarize computes the headline numbers of r. target > 0 asks for the
// time to reach that test accuracy.
func Summarize(r *Run, target float64) Summary {
	h := r.History
	s := Summary{Name: r.Name, Iterations: h.LastIter(), TotalS: h.Duration(), FinalLoss: math.NaN(), Target: target}
	for i := len(h.Train) - 1; i >= 0; i-- {
		if isFinite(h.Train[i].Loss) {
			s.FinalLoss = h.Train[i].Loss
			break
		}
	}
	if acc := h.Accuracy(); acc != nil {
		best, ok := acc.Best()
		final, ok2 := acc.Last()
		if ok && ok2 {
			s.AccuracyOutput = acc.Output
			s.Best, s.Final = best, final
			if target > 0 {
				s.TargetAt, s.Reached = acc.FirstReaching(target)
			}
		}
	}
	if batch, ok := optionNumber(r.Options, "batch_size"); ok && batch > 0 && s.TotalS > 0 {
		workers, ok := optionNumber(r.Options, "workers")
		if !ok || workers < 1 {
			workers = 1
		}
		s.ImagesPerS = float64(s.Iterations) * batch * workers / s.TotalS
	}
	return s
}

// optionNumber returns a numeric run option.
func optionNumber(opts map[string]any, key string) (float64, bool) {
	v, ok := opts[key].(float64)
	return v, ok
}
