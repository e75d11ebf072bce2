package solver

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/sparknet/sparknet/caffe"
	"github.com/sparknet/sparknet/caffe/pb"
)

// SnapshotFilename returns <snapshot_prefix>_iter_<iter><ext>, Caffe's
// snapshot file name for the current iteration.
func (s *Solver) SnapshotFilename(ext string) string {
	return s.param.GetSnapshotPrefix() + "_iter_" + strconv.Itoa(s.iter) + ext
}

// SidecarPath returns the run-state sidecar that goes with a solver state
// file: X.solverstate -> X.sparknet (other names get ".sparknet" appended).
func SidecarPath(statePath string) string {
	return strings.TrimSuffix(statePath, ".solverstate") + ".sparknet"
}

// Snapshot writes the weights (<prefix>_iter_N.caffemodel, with the
// gradients too when snapshot_diff is set), the run-state sidecar
// (<prefix>_iter_N.sparknet) and Caffe's solver state
// (<prefix>_iter_N.solverstate), in that order, each atomically (a
// temporary file renamed into place), so the solver state — the file a
// resume names — only appears once everything it refers to is complete.
func (s *Solver) Snapshot() error {
	model := s.SnapshotFilename(".caffemodel")
	s.logf("Snapshotting to binary proto file %s", model)
	if err := caffe.WriteBinary(model, s.net.ToProto(s.param.GetSnapshotDiff())); err != nil {
		return fmt.Errorf("snapshot: %w", err)
	}
	side, err := s.MarshalRunState()
	if err != nil {
		return fmt.Errorf("snapshot: %w", err)
	}
	statePath := s.SnapshotFilename(".solverstate")
	if err := writeFileAtomic(SidecarPath(statePath), side); err != nil {
		return fmt.Errorf("snapshot: %w", err)
	}
	s.logf("Snapshotting solver state to binary proto file %s", statePath)
	if err := caffe.WriteBinary(statePath, s.SolverState(model)); err != nil {
		return fmt.Errorf("snapshot: %w", err)
	}
	return nil
}

// SolverState returns Caffe's SolverState for the current iteration, naming
// learnedNet as the weights file.
func (s *Solver) SolverState(learnedNet string) *pb.SolverState {
	st := &pb.SolverState{}
	st.Iter = proto32(s.iter)
	st.LearnedNet = &learnedNet
	st.CurrentStep = proto32(s.currentStep)
	for _, h := range s.history {
		st.History = append(st.History, caffe.BlobToProto(h, false))
	}
	return st
}

func proto32(v int) *int32 {
	x := int32(v)
	return &x
}

// Restore resumes from a solver state file (Caffe's Solver::Restore): it sets
// the iteration and current step, loads the weights named by learned_net and
// the history blobs, and, when the run-state sidecar exists beside the file,
// the nets' random state, the data layers' positions and the smoothed-loss
// window, so training continues exactly where it stopped. Without a sidecar
// (a state written by Caffe) training continues as Caffe's would: data from
// the start of the sources, fresh random state.
//
// learned_net is looked up as Caffe does, relative to the working directory,
// and then beside the state file (a relative learned_net that does not exist
// there is tried in the state file's directory, also by its base name).
func (s *Solver) Restore(statePath string) error {
	if strings.HasSuffix(statePath, ".h5") {
		return fmt.Errorf("%s: HDF5 solver states are not supported; use a .solverstate (binary proto)", statePath)
	}
	st, err := caffe.LoadSolverState(statePath)
	if err != nil {
		return err
	}
	if len(st.History) != len(s.history) {
		return fmt.Errorf("%s: the solver state has %d history blobs; a %s solver for net %q needs %d",
			statePath, len(st.History), s.method, s.net.Name(), len(s.history))
	}
	if st.LearnedNet != nil {
		path, err := resolveLearnedNet(statePath, st.GetLearnedNet())
		if err != nil {
			return err
		}
		w, err := caffe.LoadWeights(path)
		if err != nil {
			return err
		}
		if err := s.net.CopyTrainedLayersFrom(w); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
	}
	for i, h := range st.History {
		if err := caffe.BlobFromProto(s.history[i], h, false); err != nil {
			return fmt.Errorf("%s: history blob %d: %w", statePath, i, err)
		}
	}
	s.iter = int(st.GetIter())
	s.currentStep = int(st.GetCurrentStep())
	s.resetRunState()

	side := SidecarPath(statePath)
	data, err := os.ReadFile(side)
	switch {
	case errors.Is(err, os.ErrNotExist):
		s.logf("No run state %s; resuming as Caffe does (data from the start, fresh random state)", side)
		return nil
	case err != nil:
		return err
	}
	if err := s.UnmarshalRunState(data); err != nil {
		return fmt.Errorf("%s: %w", side, err)
	}
	return nil
}

// resolveLearnedNet finds the weights a solver state names.
func resolveLearnedNet(statePath, name string) (string, error) {
	cands := []string{name}
	if !filepath.IsAbs(name) {
		dir := filepath.Dir(statePath)
		cands = append(cands, filepath.Join(dir, name), filepath.Join(dir, filepath.Base(name)))
	}
	for _, c := range cands {
		if fileExists(c) {
			return c, nil
		}
	}
	return "", fmt.Errorf("%s: learned_net %q not found (tried %s)", statePath, name, strings.Join(cands, ", "))
}

// writeFileAtomic writes data to a temporary file in path's directory,
// syncs it and renames it over path, so readers see the old file or the
// complete new one, never a part.
func writeFileAtomic(path string, data []byte) (err error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if _, err = f.Write(data); err != nil {
		return err
	}
	if err = f.Sync(); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	if err = os.Rename(tmp, path); err != nil {
		return err
	}
	if d, derr := os.Open(dir); derr == nil {
		d.Sync()
		d.Close()
	}
	return nil
}
