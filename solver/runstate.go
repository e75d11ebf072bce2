package solver

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/sparknet/sparknet/nn"
)

// runStateVersion is the version of the run-state format; a reader refuses
// other versions.
const runStateVersion = 1

// runState is what a resume needs beyond Caffe's SolverState. It is stored
// as JSON in the .sparknet sidecar of a snapshot.
type runState struct {
	Version int   `json:"version"`
	Iter    int   `json:"iter"`
	Seed    int64 `json:"seed"`
	// WallS is the wall time spent solving up to the snapshot, in seconds.
	WallS float64 `json:"wall_s"`
	// The smoothed-loss window (Caffe's losses_ and smoothed_loss_) and the
	// number of losses seen, which places the next one in the ring.
	Losses    []float32  `json:"losses"`
	LossCount int        `json:"loss_count"`
	Smoothed  float32    `json:"smoothed_loss"`
	Train     netState   `json:"train_net"`
	Test      []netState `json:"test_nets"`
}

// netState is the random state of a net and the positions of its stateful
// layers (data cursors).
type netState struct {
	RNG    []byte       `json:"rng"`
	Layers []layerState `json:"layers,omitempty"`
}

type layerState struct {
	Index int    `json:"index"`
	Name  string `json:"name"`
	State []byte `json:"state"`
}

// stateful is implemented by layers that keep a position to checkpoint
// (layers.Stateful).
type stateful interface {
	MarshalState() ([]byte, error)
	UnmarshalState([]byte) error
}

// MarshalRunState encodes what an exact resume needs beyond Caffe's solver
// state: the iteration, the nets' random-number state, the state of every
// layer that has one (data cursors), the smoothed-loss window and the wall
// time so far. Snapshot writes it as the .sparknet sidecar; the parallel
// scheme can store it per worker.
func (s *Solver) MarshalRunState() ([]byte, error) {
	rs := runState{
		Version:   runStateVersion,
		Iter:      s.iter,
		Seed:      s.seed,
		WallS:     s.Wall().Seconds(),
		Losses:    s.losses,
		LossCount: s.lossCount,
		Smoothed:  s.smoothed,
	}
	var err error
	if rs.Train, err = captureNet(s.net); err != nil {
		return nil, fmt.Errorf("train net: %w", err)
	}
	for i, tn := range s.testNets {
		ns, err := captureNet(tn)
		if err != nil {
			return nil, fmt.Errorf("test net #%d: %w", i, err)
		}
		rs.Test = append(rs.Test, ns)
	}
	return json.MarshalIndent(rs, "", " ")
}

// UnmarshalRunState restores what MarshalRunState saved. The iteration must
// match the solver's (restore the solver state first), and the nets must
// have the same layers.
func (s *Solver) UnmarshalRunState(data []byte) error {
	var rs runState
	if err := json.Unmarshal(data, &rs); err != nil {
		return fmt.Errorf("run state: %w", err)
	}
	if rs.Version != runStateVersion {
		return fmt.Errorf("run state version %d; this sparknet reads version %d", rs.Version, runStateVersion)
	}
	if rs.Iter != s.iter {
		return fmt.Errorf("run state is for iteration %d, the solver state for %d", rs.Iter, s.iter)
	}
	if s.opt.NoTestNets {
		rs.Test = nil
	}
	if len(rs.Test) != len(s.testNets) {
		return fmt.Errorf("run state has %d test nets, the solver %d", len(rs.Test), len(s.testNets))
	}
	if avg := int(s.param.GetAverageLoss()); len(rs.Losses) > avg {
		return fmt.Errorf("run state has %d losses in its window, more than average_loss %d", len(rs.Losses), avg)
	}
	if err := restoreNet(s.net, rs.Train); err != nil {
		return fmt.Errorf("train net: %w", err)
	}
	for i, tn := range s.testNets {
		if err := restoreNet(tn, rs.Test[i]); err != nil {
			return fmt.Errorf("test net #%d: %w", i, err)
		}
	}
	s.losses = append(s.losses[:0], rs.Losses...)
	s.lossCount = rs.LossCount
	s.smoothed = rs.Smoothed
	s.wallBase = time.Duration(rs.WallS * float64(time.Second))
	return nil
}

// resetRunState forgets the smoothed-loss window and the wall time, as a
// fresh Caffe solver has them.
func (s *Solver) resetRunState() {
	s.losses = s.losses[:0]
	s.lossCount = 0
	s.smoothed = 0
	s.wallBase = 0
}

func captureNet(n *nn.Net) (netState, error) {
	var ns netState
	rng, err := n.Context().Src.MarshalBinary()
	if err != nil {
		return ns, err
	}
	ns.RNG = rng
	names := n.LayerNames()
	for i, l := range n.Layers() {
		st, ok := l.(stateful)
		if !ok {
			continue
		}
		b, err := st.MarshalState()
		if err != nil {
			return ns, fmt.Errorf("layer %q: %w", names[i], err)
		}
		ns.Layers = append(ns.Layers, layerState{Index: i, Name: names[i], State: b})
	}
	return ns, nil
}

func restoreNet(n *nn.Net, ns netState) error {
	if err := n.Context().Src.UnmarshalBinary(ns.RNG); err != nil {
		return fmt.Errorf("random state: %w", err)
	}
	ls := n.Layers()
	names := n.LayerNames()
	want := 0
	for _, l := range ls {
		if _, ok := l.(stateful); ok {
			want++
		}
	}
	if len(ns.Layers) != want {
		return fmt.Errorf("run state has %d stateful layers, the net %d", len(ns.Layers), want)
	}
	for _, x := range ns.Layers {
		if x.Index < 0 || x.Index >= len(ls) || names[x.Index] != x.Name {
			return fmt.Errorf("run state names layer %q at index %d, which the net does not have", x.Name, x.Index)
		}
		st, ok := ls[x.Index].(stateful)
		if !ok {
			return fmt.Errorf("layer %q keeps no state", x.Name)
		}
		if err := st.UnmarshalState(x.State); err != nil {
			return fmt.Errorf("layer %q: %w", x.Name, err)
		}
	}
	return nil
}
