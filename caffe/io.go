package caffe

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"google.golang.org/protobuf/proto"

	"github.com/sparknet/sparknet/caffe/pb"
)

// LoadNet reads a text .prototxt net and upgrades it to the current (V2)
// form as Caffe's ReadNetParamsFromTextFileOrDie does. Syntax errors read
// "FILE:LINE:COL: msg" (a *SyntaxError).
func LoadNet(path string) (*pb.NetParameter, error) {
	text, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return ParseNet(path, text)
}

// ParseNet parses and upgrades a text net; name stands for the file in
// error messages.
func ParseNet(name string, text []byte) (*pb.NetParameter, error) {
	net := &pb.NetParameter{}
	if err := UnmarshalText(name, text, net); err != nil {
		return nil, binaryHint(err, text, "a .caffemodel")
	}
	if err := UpgradeNetAsNeeded(net); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return net, nil
}

// binaryHint adds a hint to a text parse error when the input looks binary
// (a NUL byte near its start), e.g. weights passed where a net is expected.
func binaryHint(err error, text []byte, what string) error {
	if bytes.IndexByte(text[:min(len(text), 512)], 0) >= 0 {
		return fmt.Errorf("%w (the file looks like %s, not a text prototxt)", err, what)
	}
	return err
}

// LoadSolver reads a text solver .prototxt and upgrades it as Caffe's
// ReadSolverParamsFromTextFileOrDie does (solver_type enum -> type). File
// paths inside it (net, train_net, test_net, snapshot_prefix, ...) are left
// as written: like Caffe, sparknet resolves them against the working
// directory when it opens them. SolverNets loads the nets it names.
func LoadSolver(path string) (*pb.SolverParameter, error) {
	text, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return ParseSolver(path, text)
}

// ParseSolver parses and upgrades a text solver; name stands for the file
// in error messages.
func ParseSolver(name string, text []byte) (*pb.SolverParameter, error) {
	sp := &pb.SolverParameter{}
	if err := UnmarshalText(name, text, sp); err != nil {
		return nil, binaryHint(err, text, "a binary file")
	}
	if err := UpgradeSolverAsNeeded(sp); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return sp, nil
}

// LoadWeights reads a binary .caffemodel (a NetParameter with blobs),
// upgrades it as Caffe's ReadNetParamsFromBinaryFileOrDie does, and checks
// every blob's shape against its values. The file is streamed: the weights
// are held in memory once, as the blobs' float slices.
func LoadWeights(path string) (*pb.NetParameter, error) {
	net := &pb.NetParameter{}
	if err := readBinaryFile(path, net, "a binary .caffemodel (NetParameter)"); err != nil {
		return nil, err
	}
	if err := finishWeights(net); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return net, nil
}

// ReadWeights is LoadWeights for a stream; size is the stream's length in
// bytes, or -1 if unknown.
func ReadWeights(r io.Reader, size int64) (*pb.NetParameter, error) {
	net := &pb.NetParameter{}
	if err := decodeBinary(r, size, net); err != nil {
		return nil, err
	}
	if err := finishWeights(net); err != nil {
		return nil, err
	}
	return net, nil
}

// DecodeWeights is LoadWeights for a .caffemodel already in memory.
func DecodeWeights(data []byte) (*pb.NetParameter, error) {
	return ReadWeights(bytes.NewReader(data), int64(len(data)))
}

func finishWeights(net *pb.NetParameter) error {
	if err := UpgradeNetAsNeeded(net); err != nil {
		return err
	}
	return validateNetBlobs(net)
}

// validateNetBlobs checks the blobs of every layer (V2 after upgrade).
func validateNetBlobs(net *pb.NetParameter) error {
	for i, l := range net.GetLayer() {
		for j, b := range l.Blobs {
			if err := ValidateBlobProto(b); err != nil {
				return fmt.Errorf("%s blob %d: %w", layerLabel(i, l), j, err)
			}
		}
	}
	return nil
}

// layerLabel names a V2 layer for messages: `layer "conv1" (Convolution)`.
func layerLabel(i int, l *pb.LayerParameter) string {
	s := fmt.Sprintf("layer %q", l.GetName())
	if l.GetName() == "" {
		s = fmt.Sprintf("layer #%d", i)
	}
	if l.GetType() != "" {
		s += " (" + typeLabel(l.GetType()) + ")"
	}
	return s
}

// LoadBlobProto reads a binary .binaryproto holding one BlobProto (such as
// a mean image) and checks its shape against its values.
func LoadBlobProto(path string) (*pb.BlobProto, error) {
	bp := &pb.BlobProto{}
	if err := readBinaryFile(path, bp, "a binary BlobProto (.binaryproto)"); err != nil {
		return nil, err
	}
	if err := ValidateBlobProto(bp); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return bp, nil
}

// DecodeBlobProto is LoadBlobProto for bytes in memory.
func DecodeBlobProto(data []byte) (*pb.BlobProto, error) {
	bp := &pb.BlobProto{}
	if err := decodeBinary(bytes.NewReader(data), int64(len(data)), bp); err != nil {
		return nil, err
	}
	if err := ValidateBlobProto(bp); err != nil {
		return nil, err
	}
	return bp, nil
}

// LoadSolverState reads a binary .solverstate and checks its history
// blobs.
func LoadSolverState(path string) (*pb.SolverState, error) {
	st := &pb.SolverState{}
	if err := readBinaryFile(path, st, "a binary .solverstate (SolverState)"); err != nil {
		return nil, err
	}
	if err := validateHistory(st); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return st, nil
}

// DecodeSolverState is LoadSolverState for bytes in memory.
func DecodeSolverState(data []byte) (*pb.SolverState, error) {
	st := &pb.SolverState{}
	if err := decodeBinary(bytes.NewReader(data), int64(len(data)), st); err != nil {
		return nil, err
	}
	if err := validateHistory(st); err != nil {
		return nil, err
	}
	return st, nil
}

func validateHistory(st *pb.SolverState) error {
	for i, b := range st.History {
		if err := ValidateBlobProto(b); err != nil {
			return fmt.Errorf("history blob %d: %w", i, err)
		}
	}
	return nil
}

var hdf5Magic = []byte("\x89HDF\r\n\x1a\n")

// readBinaryFile streams a binary proto file into m. what describes the
// expected content for hints when the file is something else.
func readBinaryFile(path string, m proto.Message, what string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	if st.IsDir() {
		return fmt.Errorf("%s: is a directory, not %s", path, what)
	}
	br := bufio.NewReaderSize(f, chunkBytes)
	head, _ := br.Peek(len(hdf5Magic))
	if bytes.Equal(head, hdf5Magic) {
		return fmt.Errorf("%s: is an HDF5 file; sparknet reads %s (Caffe's snapshot_format: BINARYPROTO)", path, what)
	}
	if err := decodeBinary(br, st.Size(), m); err != nil {
		if looksLikeText(head) {
			return fmt.Errorf("%s: %w (the file looks like text; expected %s)", path, err, what)
		}
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// looksLikeText reports whether the first bytes of a file are printable
// ASCII, as a prototxt's would be.
func looksLikeText(head []byte) bool {
	if len(head) == 0 {
		return false
	}
	for _, c := range head {
		if c != '\n' && c != '\r' && c != '\t' && (c < 0x20 || c >= 0x7f) {
			return false
		}
	}
	return true
}

// WriteBinary writes m in binary protobuf form (a .caffemodel,
// .solverstate or .binaryproto) atomically: to a temporary file in the same
// directory, synced, then renamed over path.
func WriteBinary(path string, m proto.Message) error {
	data, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
	if err != nil {
		return fmt.Errorf("encoding %s: %w", path, err)
	}
	return writeFileAtomic(path, data)
}

// WriteText writes m in Caffe-style protobuf text format (see MarshalText)
// atomically, like WriteBinary.
func WriteText(path string, m proto.Message) error {
	return writeFileAtomic(path, MarshalText(m))
}

// writeFileAtomic replaces path with data so that readers see either the
// old or the new content, never a partial file.
func writeFileAtomic(path string, data []byte) (err error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	tmp, err := os.CreateTemp(dir, "."+base+".tmp*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if _, err = tmp.Write(data); err != nil {
		return err
	}
	if err = tmp.Chmod(0o644); err != nil {
		return err
	}
	if err = tmp.Sync(); err != nil {
		return err
	}
	if err = tmp.Close(); err != nil {
		return err
	}
	if err = os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	// Make the rename itself durable; not every platform can sync a
	// directory, which is not worth failing the write for.
	if d, derr := os.Open(dir); derr == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}

// SolverNets returns the train net and the test nets sp describes, read and
// upgraded, each with its NetState set, following Caffe's Solver::
// InitTrainNet and InitTestNets: exactly one of train_net_param, train_net,
// net_param, net gives the train net (phase TRAIN, then the net's own state,
// then train_state); test nets come from test_net_param, then test_net, then
// net_param or net for each remaining test_iter (phase TEST, the net's
// state, then test_state[i]). Net files are opened relative to the working
// directory, as in Caffe.
func SolverNets(sp *pb.SolverParameter) (train *pb.NetParameter, test []*pb.NetParameter, err error) {
	count := 0
	for _, has := range []bool{sp.Net != nil, sp.NetParam != nil, sp.TrainNet != nil, sp.TrainNetParam != nil} {
		if has {
			count++
		}
	}
	const fields = "net, net_param, train_net, train_net_param"
	switch {
	case count == 0:
		return nil, nil, fmt.Errorf("the solver names no train net; set one of: %s", fields)
	case count > 1:
		return nil, nil, fmt.Errorf("the solver names more than one train net; set only one of: %s", fields)
	}
	inline := func(n *pb.NetParameter, field string) (*pb.NetParameter, error) {
		c := proto.Clone(n).(*pb.NetParameter)
		if err := UpgradeNetAsNeeded(c); err != nil {
			return nil, fmt.Errorf("solver %s: %w", field, err)
		}
		return c, nil
	}
	switch {
	case sp.TrainNetParam != nil:
		train, err = inline(sp.TrainNetParam, "train_net_param")
	case sp.TrainNet != nil:
		train, err = LoadNet(sp.GetTrainNet())
	case sp.NetParam != nil:
		train, err = inline(sp.NetParam, "net_param")
	default:
		train, err = LoadNet(sp.GetNet())
	}
	if err != nil {
		return nil, nil, err
	}
	train.State = mergeState(pb.Phase_TRAIN, train.State, sp.TrainState)

	generic := 0
	if sp.NetParam != nil || sp.Net != nil {
		generic = 1
	}
	specific := len(sp.TestNetParam) + len(sp.TestNet)
	iters := len(sp.TestIter)
	if generic == 0 && iters != specific || iters < specific {
		return nil, nil, fmt.Errorf("the solver has %d test nets but %d test_iter values; give one test_iter per test net", specific, iters)
	}
	instances := specific
	if generic == 1 {
		instances = iters
	}
	if len(sp.TestState) > 0 && len(sp.TestState) != instances {
		return nil, nil, fmt.Errorf("the solver has %d test nets but %d test_state entries; give none or one per test net", instances, len(sp.TestState))
	}
	if instances > 0 && sp.GetTestInterval() <= 0 {
		return nil, nil, errors.New("the solver has test nets but no positive test_interval")
	}
	for i, n := range sp.TestNetParam {
		c, err := inline(n, fmt.Sprintf("test_net_param[%d]", i))
		if err != nil {
			return nil, nil, err
		}
		test = append(test, c)
	}
	for _, path := range sp.TestNet {
		c, err := LoadNet(path)
		if err != nil {
			return nil, nil, err
		}
		test = append(test, c)
	}
	for len(test) < instances {
		var c *pb.NetParameter
		if sp.NetParam != nil {
			c, err = inline(sp.NetParam, "net_param")
		} else {
			c, err = LoadNet(sp.GetNet())
		}
		if err != nil {
			return nil, nil, err
		}
		test = append(test, c)
	}
	for i, c := range test {
		var st *pb.NetState
		if len(sp.TestState) > 0 {
			st = sp.TestState[i]
		}
		c.State = mergeState(pb.Phase_TEST, c.State, st)
	}
	return train, test, nil
}

// mergeState builds a NetState as Caffe does: the phase, then the fields
// set in the net's own state, then those set in the solver's state (stages
// accumulate).
func mergeState(phase pb.Phase, states ...*pb.NetState) *pb.NetState {
	out := &pb.NetState{Phase: phase.Enum()}
	for _, s := range states {
		if s != nil {
			proto.Merge(out, s)
		}
	}
	return out
}
