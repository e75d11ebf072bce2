package parallel

import (
	"archive/zip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/sparknet/sparknet/internal/lewire"
	"github.com/sparknet/sparknet/report"
)

// A parallel checkpoint is three files beside each other, written in this
// order, each atomically:
//
//	<prefix>_iter_N.parallel     this package's run state (a zip archive)
//	<prefix>_iter_N.caffemodel   the global weights (Caffe's format)
//	<prefix>_iter_N.sparknet     the driver solver's run state (test nets)
//	<prefix>_iter_N.solverstate  Caffe's solver state: iter = the global
//	                             iteration, history = the workers' mean
//
// so the solver state, which -snapshot names, appears only once everything
// it refers to is complete. Caffe (or a plain `sparknet train`) can resume
// from the .solverstate as a single solver; `sparknet train -workers K
// -snapshot` resumes the parallel run exactly.
//
// The run state archive holds run.json (the run's settings and position),
// outer.state (the outer optimizer's state), history.f32 (the global
// history in momentum mode average), replica.f32 (with a lossy codec: the
// weights the workers hold, which the next round's broadcast updates; see
// Broadcast) and worker-NNNN.state for each partition
// (Worker.MarshalState).

// RunStatePath returns the parallel run state that goes with a solver state
// file: X.solverstate -> X.parallel.
func RunStatePath(statePath string) string {
	return strings.TrimSuffix(statePath, ".solverstate") + ".parallel"
}

// runStateVersion is the version of run.json's format.
const runStateVersion = 1

// runInfo is run.json.
type runInfo struct {
	Version     int     `json:"version"`
	RunID       string  `json:"run_id"`
	Seed        int64   `json:"seed"`
	Iter        int     `json:"iter"`
	Round       int     `json:"round"`
	Workers     int     `json:"workers"`
	Tau         int     `json:"tau"`
	Outer       string  `json:"outer"`
	Momentum    string  `json:"momentum_mode"`
	Codec       string  `json:"compress"`
	Params      int     `json:"params"`
	HistorySets int     `json:"history_sets"`
	WallS       float64 `json:"wall_s"`
	// VirtualS is the modelled communication time so far when it is kept
	// on a virtual clock.
	VirtualS float64 `json:"virtual_comm_s,omitempty"`
	// LastSnapshot is the iteration of the latest snapshot (this one);
	// PrevIter the global iteration at the start of the round that ended
	// at it (-1: none).
	LastSnapshot int `json:"last_snapshot"`
	PrevIter     int `json:"prev_iter"`
}

// runState is a loaded run state archive.
type runState struct {
	info    runInfo
	outer   []byte
	history []float32
	replica []float32
	workers [][]byte
}

// writeRunState writes the archive atomically.
func writeRunState(path string, rs *runState) error {
	return report.WriteFileAtomic(path, func(w io.Writer) error {
		z := zip.NewWriter(w)
		put := func(name string, data []byte) error {
			// Stored, not deflated: float data hardly compresses and the
			// archive is written at every snapshot.
			f, err := z.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Store})
			if err != nil {
				return err
			}
			_, err = f.Write(data)
			return err
		}
		info, err := json.MarshalIndent(rs.info, "", " ")
		if err != nil {
			return err
		}
		if err := put("run.json", info); err != nil {
			return err
		}
		if err := put("outer.state", rs.outer); err != nil {
			return err
		}
		if rs.history != nil {
			if err := put("history.f32", lewire.AppendFloat32s(nil, rs.history)); err != nil {
				return err
			}
		}
		if rs.replica != nil {
			if err := put("replica.f32", lewire.AppendFloat32s(nil, rs.replica)); err != nil {
				return err
			}
		}
		for i, s := range rs.workers {
			if err := put(fmt.Sprintf("worker-%04d.state", i), s); err != nil {
				return err
			}
		}
		return z.Close()
	})
}

// readRunState loads an archive; it returns an error wrapping
// os.ErrNotExist when there is none.
func readRunState(path string) (*runState, error) {
	z, err := zip.OpenReader(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, err
		}
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	defer z.Close()
	files := map[string][]byte{}
	for _, f := range z.File {
		rc, err := f.Open()
		if err != nil {
			return nil, fmt.Errorf("%s: %s: %w", path, f.Name, err)
		}
		b, err := io.ReadAll(rc) // the zip reader checks each entry's CRC-32
		rc.Close()
		if err != nil {
			return nil, fmt.Errorf("%s: %s: %w", path, f.Name, err)
		}
		files[f.Name] = b
	}
	rs := &runState{}
	info, ok := files["run.json"]
	if !ok {
		return nil, fmt.Errorf("%s: no run.json; not a parallel run state", path)
	}
	if err := json.Unmarshal(info, &rs.info); err != nil {
		return nil, fmt.Errorf("%s: run.json: %w", path, err)
	}
	if rs.info.Version != runStateVersion {
		return nil, fmt.Errorf("%s: run state version %d; this sparknet reads version %d", path, rs.info.Version, runStateVersion)
	}
	if rs.info.Workers < 1 || rs.info.Workers > 1<<16 {
		return nil, fmt.Errorf("%s: run state for %d workers", path, rs.info.Workers)
	}
	rs.outer = files["outer.state"]
	if h, ok := files["history.f32"]; ok {
		if len(h)%4 != 0 {
			return nil, fmt.Errorf("%s: history.f32 has %d bytes, not whole floats", path, len(h))
		}
		r := reader{b: h}
		rs.history = r.floats(len(h) / 4)
	}
	if b, ok := files["replica.f32"]; ok {
		if len(b) != 4*rs.info.Params {
			return nil, fmt.Errorf("%s: replica.f32 has %d bytes for %d parameters", path, len(b), rs.info.Params)
		}
		r := reader{b: b}
		rs.replica = r.floats(len(b) / 4)
	}
	for i := 0; i < rs.info.Workers; i++ {
		name := fmt.Sprintf("worker-%04d.state", i)
		s, ok := files[name]
		if !ok {
			return nil, fmt.Errorf("%s: %s is missing", path, name)
		}
		rs.workers = append(rs.workers, s)
	}
	return rs, nil
}

// stateHistory extracts the history values from a worker state (for the
// mean history the solver state holds), checking only its framing.
func stateHistory(b []byte) ([]float32, error) {
	const fixed = 4 + 2 + 4 + 4 + 8 + 1
	if len(b) < fixed+4 || string(b[:4]) != workerMagic {
		return nil, errors.New("not a worker state")
	}
	r := reader{b: b[fixed:]}
	r.bytes(int(r.u32()))
	n := r.u64()
	if r.err != nil || n > uint64(len(r.b))/4 {
		return nil, errors.New("truncated worker state")
	}
	return r.floats(int(n)), nil
}

// RunStateInfo describes a parallel checkpoint, for tools.
type RunStateInfo struct {
	RunID                  string
	Iter, Round, Workers   int
	Tau                    int
	Outer, Momentum, Codec string
}

// ReadRunStateInfo reads the settings and position of a parallel
// checkpoint (X.solverstate or X.parallel).
func ReadRunStateInfo(path string) (RunStateInfo, error) {
	if !strings.HasSuffix(path, ".parallel") {
		path = RunStatePath(path)
	}
	rs, err := readRunState(path)
	if err != nil {
		return RunStateInfo{}, err
	}
	i := rs.info
	return RunStateInfo{RunID: i.RunID, Iter: i.Iter, Round: i.Round, Workers: i.Workers, Tau: i.Tau,
		Outer: i.Outer, Momentum: i.Momentum, Codec: i.Codec}, nil
}
