// Package nn builds and runs networks: the graph of layers that a Caffe
// NetParameter describes for one phase, with Caffe's rules for filtering
// layers by NetState, inserting Split layers, in-place layers, parameter
// sharing, loss weights and the backward pass (src/caffe/net.cpp).
package nn

import (
	"errors"
	"fmt"
	"io"
	"sort"

	"google.golang.org/protobuf/proto"

	"github.com/sparknet/sparknet/blas"
	"github.com/sparknet/sparknet/caffe"
	"github.com/sparknet/sparknet/caffe/pb"
	"github.com/sparknet/sparknet/layers"
	"github.com/sparknet/sparknet/tensor"
)

// Options configures New.
type Options struct {
	// Seed seeds the layers' random generator (fillers, dropout, data
	// shuffling), so that a net is built and run reproducibly.
	Seed uint64
	// Shard and Shards select the part of the training data the data
	// layers read: shard Shard of Shards (Shards <= 1: all of it).
	Shard, Shards int
}

// ParamInfo describes a learnable parameter blob: the layer that owns it,
// its index among that layer's parameters, its ParamSpec name (empty when
// anonymous) and its learning-rate and weight-decay multipliers.
type ParamInfo struct {
	Layer             string
	Index             int
	Name              string
	LrMult, DecayMult float32
}

// lossTop is a top blob with a nonzero loss weight.
type lossTop struct {
	blob   *tensor.Blob
	weight float32
}

// Net is a network built for one phase. Its methods are not safe for
// concurrent use.
type Net struct {
	name  string
	phase pb.Phase
	ctx   *layers.Context

	layers      []layers.Layer
	layerParams []*pb.LayerParameter
	layerNames  []string
	layerIndex  map[string]int

	blobs      []*tensor.Blob
	blobNames  []string
	blobIndex  map[string]int
	blobLossW  []float32
	blobNeedBw []bool

	bottoms, tops     [][]*tensor.Blob
	bottomIDs, topIDs [][]int
	bottomNeedBw      [][]bool
	layerNeedBw       []bool
	failers           []layers.Failer
	lossTops          [][]lossTop

	params      []*tensor.Blob // every parameter blob, shared ones included
	paramOwner  []int          // -1, or the index in params of the owner
	paramLayer  [][2]int       // layer index, parameter index
	paramNames  map[string]int // ParamSpec name -> index in params
	learnable   []*tensor.Blob
	info        []ParamInfo
	hasLr       []bool
	hasDecay    []bool
	learnableID []int // per params entry: index in learnable

	inputs, outputs []int
}

// New builds the net param describes for state (param.State when state is
// nil): it upgrades deprecated net-level inputs, filters the layers by their
// include/exclude rules, inserts Split layers, then creates, connects and
// sets up every layer and decides, as Caffe's Net::Init, which layers and
// bottoms need a backward pass. Errors name the layer at fault.
func New(param *pb.NetParameter, state *pb.NetState, opt Options) (*Net, error) {
	p := proto.Clone(param).(*pb.NetParameter)
	if state != nil {
		p.State = proto.Clone(state).(*pb.NetState)
	}
	if caffe.NetNeedsUpgrade(p) {
		if err := caffe.UpgradeNetAsNeeded(p); err != nil {
			return nil, fmt.Errorf("net %q: %w", p.GetName(), err)
		}
	}
	filtered, err := FilterNet(p)
	if err != nil {
		return nil, fmt.Errorf("net %q: %w", p.GetName(), err)
	}
	split, err := InsertSplits(filtered)
	if err != nil {
		return nil, fmt.Errorf("net %q: %w", p.GetName(), err)
	}
	phase := p.GetState().GetPhase()
	ctx := layers.NewContext(phase, opt.Seed)
	ctx.Shard, ctx.Shards = opt.Shard, opt.Shards
	n := &Net{
		name:       p.GetName(),
		phase:      phase,
		ctx:        ctx,
		layerIndex: map[string]int{},
		blobIndex:  map[string]int{},
		paramNames: map[string]int{},
	}
	if err := n.init(split); err != nil {
		return nil, err
	}
	return n, nil
}

// newBlob adds a blob to the net.
func (n *Net) newBlob(name string) int {
	id := len(n.blobs)
	n.blobs = append(n.blobs, &tensor.Blob{})
	n.blobNames = append(n.blobNames, name)
	n.blobNeedBw = append(n.blobNeedBw, false)
	n.blobLossW = append(n.blobLossW, 0)
	return id
}

func (n *Net) init(param *pb.NetParameter) error {
	available := map[string]bool{}
	nameToID := map[string]int{}
	for li, lp := range param.Layer {
		if lp.Phase == nil {
			lp.Phase = n.phase.Enum()
		}
		label := layerLabel(li, lp)
		if len(lp.PropagateDown) > 0 && len(lp.PropagateDown) != len(lp.Bottom) {
			return fmt.Errorf("%s: propagate_down must be given either 0 or %d (the number of bottoms) times, got %d", label, len(lp.Bottom), len(lp.PropagateDown))
		}
		l, err := layers.New(lp, n.ctx)
		if err != nil {
			return err
		}
		n.layers = append(n.layers, l)
		n.layerParams = append(n.layerParams, lp)
		n.layerNames = append(n.layerNames, lp.GetName())
		if _, dup := n.layerIndex[lp.GetName()]; !dup {
			n.layerIndex[lp.GetName()] = li
		}
		var bottoms, tops []*tensor.Blob
		var bottomIDs, topIDs []int
		var bottomNeed []bool
		needBw := false
		for j, name := range lp.Bottom {
			if !available[name] {
				return fmt.Errorf("%s: unknown bottom blob %q (bottom index %d)", label, name, j)
			}
			id := nameToID[name]
			delete(available, name)
			bottoms = append(bottoms, n.blobs[id])
			bottomIDs = append(bottomIDs, id)
			need := n.blobNeedBw[id]
			if len(lp.PropagateDown) > 0 {
				need = lp.PropagateDown[j]
			}
			bottomNeed = append(bottomNeed, need)
			needBw = needBw || n.blobNeedBw[id]
		}
		for j, name := range lp.Top {
			var id int
			if j < len(lp.Bottom) && name == lp.Bottom[j] {
				id = nameToID[name] // in place
			} else if _, exists := nameToID[name]; exists {
				return fmt.Errorf("%s: top blob %q produced by multiple sources", label, name)
			} else {
				id = n.newBlob(name)
				nameToID[name] = id
			}
			available[name] = true
			tops = append(tops, n.blobs[id])
			topIDs = append(topIDs, id)
			if lp.GetType() == "Input" {
				n.inputs = append(n.inputs, id)
			}
		}
		ar, hasArity := l.(layers.Arityer)
		if hasArity && ar.Arity().AutoTop {
			a := ar.Arity()
			for need := max(a.MinTop, a.ExactTop); len(tops) < need; {
				id := n.newBlob("(automatic)")
				tops = append(tops, n.blobs[id])
				topIDs = append(topIDs, id)
			}
		}
		if hasArity {
			if err := ar.Arity().Check(len(bottoms), len(tops)); err != nil {
				return fmt.Errorf("%s: %w", label, err)
			}
		}
		n.bottoms = append(n.bottoms, bottoms)
		n.tops = append(n.tops, tops)
		n.bottomIDs = append(n.bottomIDs, bottomIDs)
		n.topIDs = append(n.topIDs, topIDs)
		n.bottomNeedBw = append(n.bottomNeedBw, bottomNeed)
		if err := l.Setup(bottoms, tops); err != nil {
			return fmt.Errorf("%s: setup: %w", label, err)
		}
		if err := l.Reshape(bottoms, tops); err != nil {
			return fmt.Errorf("%s: reshape: %w", label, err)
		}
		params := l.Params()
		if len(lp.Blobs) > 0 {
			if err := copyBlobs(lp.GetName(), params, lp.Blobs); err != nil {
				return err
			}
		}
		// Loss weights (Caffe's Layer::SetLossWeights and LossLayer).
		weights := make([]float32, len(tops))
		switch {
		case len(lp.LossWeight) > 0:
			if len(lp.LossWeight) != len(tops) {
				return fmt.Errorf("%s: loss_weight must be unspecified or given once per top blob (%d), got %d", label, len(tops), len(lp.LossWeight))
			}
			copy(weights, lp.LossWeight)
		default:
			if ll, ok := l.(layers.Loss); ok && ll.IsLoss() && len(tops) > 0 {
				weights[0] = 1
				// Caffe's LossLayer records the default in its parameters.
				lp.LossWeight = []float32{1}
				for range tops[1:] {
					lp.LossWeight = append(lp.LossWeight, 0)
				}
			}
		}
		var lt []lossTop
		for j, w := range weights {
			n.blobLossW[topIDs[j]] = w
			if w != 0 {
				lt = append(lt, lossTop{tops[j], w})
			}
		}
		n.lossTops = append(n.lossTops, lt)
		f, _ := l.(layers.Failer)
		n.failers = append(n.failers, f)
		// Parameters.
		if len(lp.Param) > len(params) {
			return fmt.Errorf("%s: %d param specs given for %d parameter blobs", label, len(lp.Param), len(params))
		}
		pp, _ := l.(layers.ParamPropagator)
		for j := range params {
			spec := paramSpec(lp, j)
			on := spec.GetLrMult() != 0
			needBw = needBw || on
			if pp != nil {
				pp.SetParamPropagateDown(j, on)
			}
		}
		for j := range params {
			if err := n.appendParam(li, j); err != nil {
				return err
			}
		}
		n.layerNeedBw = append(n.layerNeedBw, needBw)
		if needBw {
			for _, id := range topIDs {
				n.blobNeedBw[id] = true
			}
		}
	}
	n.decideBackward(param.GetForceBackward())
	names := make([]string, 0, len(available))
	for name := range available {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		n.outputs = append(n.outputs, nameToID[name])
	}
	for i, name := range n.blobNames {
		n.blobIndex[name] = i
	}
	n.shareWeights()
	return nil
}

// paramSpec returns the ParamSpec of parameter j of lp (a default one when
// not given).
func paramSpec(lp *pb.LayerParameter, j int) *pb.ParamSpec {
	if j < len(lp.Param) {
		return lp.Param[j]
	}
	return &pb.ParamSpec{}
}

// decideBackward is the second half of Caffe's Net::Init: walking the net
// backwards, a layer needs no backward pass when none of its tops reaches a
// loss, or when none of its tops wants a gradient; then force_backward.
func (n *Net) decideBackward(force bool) {
	underLoss := map[int]bool{}
	skip := map[int]bool{}
	for li := len(n.layers) - 1; li >= 0; li-- {
		contributes, skipDown := false, true
		for j, id := range n.topIDs[li] {
			if n.isLossTop(li, j) || underLoss[id] {
				contributes = true
			}
			if !skip[id] {
				skipDown = false
			}
			if contributes && !skipDown {
				break
			}
		}
		if n.layerNeedBw[li] && skipDown {
			n.layerNeedBw[li] = false
			for j := range n.bottomNeedBw[li] {
				n.bottomNeedBw[li][j] = false
			}
		}
		if !contributes {
			n.layerNeedBw[li] = false
		}
		for j, id := range n.bottomIDs[li] {
			if contributes {
				underLoss[id] = true
			} else {
				n.bottomNeedBw[li][j] = false
			}
			if !n.bottomNeedBw[li][j] {
				skip[id] = true
			}
		}
	}
	if !force {
		return
	}
	for li, l := range n.layers {
		n.layerNeedBw[li] = true
		fa, _ := l.(layers.ForceBackwardAllower)
		for j, id := range n.bottomIDs[li] {
			allow := fa == nil || fa.AllowForceBackward(j)
			n.bottomNeedBw[li][j] = n.bottomNeedBw[li][j] || allow
			n.blobNeedBw[id] = n.blobNeedBw[id] || n.bottomNeedBw[li][j]
		}
		if pp, ok := l.(layers.ParamPropagator); ok {
			for j := range l.Params() {
				pp.SetParamPropagateDown(j, true)
			}
		}
	}
}

// isLossTop reports whether top j of layer li has a nonzero loss weight.
func (n *Net) isLossTop(li, j int) bool {
	b := n.tops[li][j]
	for _, lt := range n.lossTops[li] {
		if lt.blob == b {
			return true
		}
	}
	return false
}

// appendParam is Caffe's Net::AppendParam: parameter j of layer li is owned
// by it, or shared with the first parameter of the same ParamSpec name.
func (n *Net) appendParam(li, j int) error {
	lp := n.layerParams[li]
	blob := n.layers[li].Params()[j]
	spec := paramSpec(lp, j)
	name := spec.GetName()
	id := len(n.params)
	n.params = append(n.params, blob)
	n.paramLayer = append(n.paramLayer, [2]int{li, j})
	owner, shared := n.paramNames[name]
	if name == "" || !shared {
		n.paramOwner = append(n.paramOwner, -1)
		if name != "" {
			n.paramNames[name] = id
		}
		n.learnableID = append(n.learnableID, len(n.learnable))
		n.learnable = append(n.learnable, blob)
		n.info = append(n.info, ParamInfo{Layer: lp.GetName(), Index: j, Name: name, LrMult: spec.GetLrMult(), DecayMult: spec.GetDecayMult()})
		n.hasLr = append(n.hasLr, spec.LrMult != nil)
		n.hasDecay = append(n.hasDecay, spec.DecayMult != nil)
		return nil
	}
	n.paramOwner = append(n.paramOwner, owner)
	ob := n.params[owner]
	ownerLayer := n.layerNames[n.paramLayer[owner][0]]
	if spec.GetShareMode() == pb.ParamSpec_PERMISSIVE {
		if blob.Count() != ob.Count() {
			return fmt.Errorf("%s: cannot share param %q owned by layer %q: count mismatch: owner shape is %s, sharing layer shape is %s",
				layerLabel(li, lp), name, ownerLayer, ob.ShapeString(), blob.ShapeString())
		}
	} else if !tensor.SameShape(blob, ob) {
		return fmt.Errorf("%s: cannot share param %q owned by layer %q: shape mismatch: owner shape is %s, sharing layer expects %s",
			layerLabel(li, lp), name, ownerLayer, ob.ShapeString(), blob.ShapeString())
	}
	lid := n.learnableID[owner]
	n.learnableID = append(n.learnableID, lid)
	if spec.LrMult != nil {
		if n.hasLr[lid] && n.info[lid].LrMult != spec.GetLrMult() {
			return fmt.Errorf("%s: shared param %q has mismatched lr_mult (%g, owner %g)", layerLabel(li, lp), name, spec.GetLrMult(), n.info[lid].LrMult)
		}
		n.hasLr[lid], n.info[lid].LrMult = true, spec.GetLrMult()
	}
	if spec.DecayMult != nil {
		if n.hasDecay[lid] && n.info[lid].DecayMult != spec.GetDecayMult() {
			return fmt.Errorf("%s: shared param %q has mismatched decay_mult (%g, owner %g)", layerLabel(li, lp), name, spec.GetDecayMult(), n.info[lid].DecayMult)
		}
		n.hasDecay[lid], n.info[lid].DecayMult = true, spec.GetDecayMult()
	}
	return nil
}

// shareWeights makes every shared parameter use its owner's buffers.
func (n *Net) shareWeights() {
	for i, o := range n.paramOwner {
		if o >= 0 {
			n.params[i].Data = n.params[o].Data
			n.params[i].Diff = n.params[o].Diff
		}
	}
}

// copyBlobs copies BlobProtos into a layer's parameters, checking their
// number and shapes.
func copyBlobs(layer string, dst []*tensor.Blob, src []*pb.BlobProto) error {
	if len(dst) != len(src) {
		return fmt.Errorf("layer %q: incompatible number of blobs: the source has %d, the layer %d", layer, len(src), len(dst))
	}
	for j, bp := range src {
		if !caffe.ShapeMatches(dst[j].Shape(), bp) {
			shape, err := caffe.BlobShape(bp)
			s := tensor.JoinDims(shape)
			if err != nil {
				s = "(invalid: " + err.Error() + ")"
			}
			return fmt.Errorf("cannot copy param %d weights from layer %q; shape mismatch: source param shape is %s; target param shape is %s. "+
				"To learn this layer's parameters from scratch rather than copying from a saved net, rename the layer", j, layer, s, dst[j].DimsString())
		}
		if err := caffe.BlobFromProto(dst[j], bp, false); err != nil {
			return fmt.Errorf("layer %q param %d: %w", layer, j, err)
		}
	}
	return nil
}

// Name returns the net's name.
func (n *Net) Name() string { return n.name }

// Phase returns the phase the net was built for.
func (n *Net) Phase() pb.Phase { return n.phase }

// Context returns the layers' context (its random generator can be saved
// and restored to resume a run exactly).
func (n *Net) Context() *layers.Context { return n.ctx }

// Forward runs every layer (Reshape, then Forward) and returns the loss: the
// sum over the tops with a loss weight of weight times the sum of the top.
func (n *Net) Forward() (float32, error) {
	if len(n.layers) == 0 {
		return 0, nil
	}
	return n.ForwardRange(0, len(n.layers)-1)
}

// ForwardRange runs layers start through end (inclusive), as Caffe's
// ForwardFromTo, and returns their part of the loss. A layer that fails
// (see layers.Failer) stops the pass with an error naming it.
func (n *Net) ForwardRange(start, end int) (float32, error) {
	if start < 0 || end >= len(n.layers) || start > end {
		return 0, fmt.Errorf("net %q: forward range [%d, %d] outside its %d layers", n.name, start, end, len(n.layers))
	}
	var loss float64
	for i := start; i <= end; i++ {
		l := n.layers[i]
		if err := l.Reshape(n.bottoms[i], n.tops[i]); err != nil {
			return float32(loss), fmt.Errorf("%s: reshape: %w", layerLabel(i, n.layerParams[i]), err)
		}
		l.Forward(n.bottoms[i], n.tops[i])
		if f := n.failers[i]; f != nil {
			if err := f.Err(); err != nil {
				return float32(loss), fmt.Errorf("%s: %w", layerLabel(i, n.layerParams[i]), err)
			}
		}
		for _, lt := range n.lossTops[i] {
			var s float64
			for _, v := range lt.blob.Data {
				s += float64(v)
			}
			loss += float64(lt.weight) * s
		}
	}
	return float32(loss), nil
}

// Backward runs the backward pass of every layer that needs one, from the
// last layer to the first. Parameter gradients accumulate (see
// ClearParamDiffs).
func (n *Net) Backward() {
	if len(n.layers) > 0 {
		n.BackwardRange(len(n.layers)-1, 0)
	}
}

// BackwardRange runs the backward pass of layers start down to end
// (inclusive, start >= end), as Caffe's BackwardFromTo. Before a layer with
// loss tops runs, their gradients are set to their loss weights.
func (n *Net) BackwardRange(start, end int) {
	start = min(start, len(n.layers)-1)
	end = max(end, 0)
	for i := start; i >= end; i-- {
		if !n.layerNeedBw[i] {
			continue
		}
		for _, lt := range n.lossTops[i] {
			d := lt.blob.Diff
			for k := range d {
				d[k] = lt.weight
			}
		}
		n.layers[i].Backward(n.tops[i], n.bottomNeedBw[i], n.bottoms[i])
	}
}

// ForwardBackward runs Forward then Backward and returns the loss.
func (n *Net) ForwardBackward() (float32, error) {
	loss, err := n.Forward()
	if err != nil {
		return loss, err
	}
	n.Backward()
	return loss, nil
}

// Reshape reshapes every layer from the current input shapes without
// running it, as Caffe's Net::Reshape.
func (n *Net) Reshape() error {
	for i, l := range n.layers {
		if err := l.Reshape(n.bottoms[i], n.tops[i]); err != nil {
			return fmt.Errorf("%s: reshape: %w", layerLabel(i, n.layerParams[i]), err)
		}
	}
	return nil
}

// Params returns the learnable parameter blobs, shared ones once (by their
// owner), in Caffe's learnable_params order.
func (n *Net) Params() []*tensor.Blob { return n.learnable }

// ParamInfo returns, parallel to Params, where each parameter comes from
// and its multipliers.
func (n *Net) ParamInfo() []ParamInfo { return n.info }

// ClearParamDiffs zeroes the gradients of the learnable parameters.
func (n *Net) ClearParamDiffs() {
	for _, p := range n.learnable {
		clear(p.Diff)
	}
}

// Update subtracts every learnable parameter's gradient from its values
// (Caffe's Net::Update; the solver has already scaled the gradients).
func (n *Net) Update() {
	for _, p := range n.learnable {
		blas.Saxpy(len(p.Data), -1, p.Diff, p.Data)
	}
}

// Layers returns the layers in order (Split layers included).
func (n *Net) Layers() []layers.Layer { return n.layers }

// LayerNames returns the layer names, parallel to Layers.
func (n *Net) LayerNames() []string { return n.layerNames }

// LayerParams returns the layers' parameters after filtering and split
// insertion, parallel to Layers.
func (n *Net) LayerParams() []*pb.LayerParameter { return n.layerParams }

// Layer returns the first layer of the given name, or nil.
func (n *Net) Layer(name string) layers.Layer {
	if i, ok := n.layerIndex[name]; ok {
		return n.layers[i]
	}
	return nil
}

// LayerIndex returns the index of the first layer of the given name, or -1.
func (n *Net) LayerIndex(name string) int {
	if i, ok := n.layerIndex[name]; ok {
		return i
	}
	return -1
}

// Blob returns the blob of the given name, or nil.
func (n *Net) Blob(name string) *tensor.Blob {
	if i, ok := n.blobIndex[name]; ok {
		return n.blobs[i]
	}
	return nil
}

// BlobNames returns the names of all blobs in creation order (anonymous
// tops are "(automatic)").
func (n *Net) BlobNames() []string { return n.blobNames }

// Bottoms returns the bottom blobs of layer i.
func (n *Net) Bottoms(i int) []*tensor.Blob { return n.bottoms[i] }

// Tops returns the top blobs of layer i.
func (n *Net) Tops(i int) []*tensor.Blob { return n.tops[i] }

// TopNames returns the names of the top blobs of layer i.
func (n *Net) TopNames(i int) []string {
	names := make([]string, len(n.topIDs[i]))
	for j, id := range n.topIDs[i] {
		names[j] = n.blobNames[id]
	}
	return names
}

// NeedsBackward reports whether layer i takes part in the backward pass.
func (n *Net) NeedsBackward(i int) bool { return n.layerNeedBw[i] }

// BottomNeedsBackward reports, for each bottom of layer i, whether the
// backward pass computes its gradient.
func (n *Net) BottomNeedsBackward(i int) []bool { return n.bottomNeedBw[i] }

// Inputs returns the tops of the net's Input layers (Caffe's net inputs).
func (n *Net) Inputs() []*tensor.Blob { return n.pick(n.inputs) }

// InputNames returns the names of the net's inputs.
func (n *Net) InputNames() []string { return n.pickNames(n.inputs) }

// Outputs returns the blobs no layer consumes, sorted by name as Caffe
// lists them.
func (n *Net) Outputs() []*tensor.Blob { return n.pick(n.outputs) }

// OutputNames returns the names of the outputs, parallel to Outputs.
func (n *Net) OutputNames() []string { return n.pickNames(n.outputs) }

func (n *Net) pick(ids []int) []*tensor.Blob {
	out := make([]*tensor.Blob, len(ids))
	for i, id := range ids {
		out[i] = n.blobs[id]
	}
	return out
}

func (n *Net) pickNames(ids []int) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = n.blobNames[id]
	}
	return out
}

// BlobLossWeight returns the loss weight of the named blob (0 for blobs
// that are not losses).
func (n *Net) BlobLossWeight(name string) float32 {
	if i, ok := n.blobIndex[name]; ok {
		return n.blobLossW[i]
	}
	return 0
}

// CopyTrainedLayersFrom copies parameters from w (a .caffemodel's
// NetParameter) into the layers of the same name, as Caffe's
// CopyTrainedLayersFrom: layers absent from w keep their values, layers of
// w absent from the net are ignored, and a layer whose blobs differ in
// number or shape is an error naming it and both shapes. Legacy 4-D blob
// shapes match blobs with the same dimensions padded with leading ones.
func (n *Net) CopyTrainedLayersFrom(w *pb.NetParameter) error {
	type source struct {
		name  string
		blobs []*pb.BlobProto
	}
	var srcs []source
	for _, l := range w.GetLayer() {
		srcs = append(srcs, source{l.GetName(), l.Blobs})
	}
	for _, l := range w.GetLayers() { // V1 weights not upgraded by the caller
		srcs = append(srcs, source{l.GetName(), l.Blobs})
	}
	for _, s := range srcs {
		i, ok := n.layerIndex[s.name]
		if !ok {
			continue
		}
		if err := copyBlobs(s.name, n.layers[i].Params(), s.blobs); err != nil {
			return err
		}
	}
	return nil
}

// ShareTrainedLayersWith makes the parameters of every layer that other
// also has (by name) use other's values, as Caffe's ShareTrainedLayersWith
// (a test net shares the train net's weights). Layers whose parameters
// differ in number or shape are an error.
func (n *Net) ShareTrainedLayersWith(other *Net) error {
	for i, name := range other.layerNames {
		ti, ok := n.layerIndex[name]
		if !ok {
			continue
		}
		src, dst := other.layers[i].Params(), n.layers[ti].Params()
		if len(src) != len(dst) {
			return fmt.Errorf("layer %q: incompatible number of blobs: source %d, target %d", name, len(src), len(dst))
		}
		for j := range src {
			if !tensor.SameShape(src[j], dst[j]) {
				return fmt.Errorf("cannot share param %d weights from layer %q; shape mismatch: source param shape is %s; target param shape is %s",
					j, name, src[j].DimsString(), dst[j].DimsString())
			}
			dst[j].Data = src[j].Data
		}
	}
	// Parameters shared inside this net follow their (now aliased) owners.
	for i, o := range n.paramOwner {
		if o >= 0 {
			n.params[i].Data = n.params[o].Data
		}
	}
	return nil
}

// ToProto returns the net as a NetParameter with every layer's parameters
// and its parameter blobs (and gradients when withDiff), as Caffe's
// Net::ToProto writes a .caffemodel.
func (n *Net) ToProto(withDiff bool) *pb.NetParameter {
	np := &pb.NetParameter{Name: proto.String(n.name)}
	for i, lp := range n.layerParams {
		c := proto.Clone(lp).(*pb.LayerParameter)
		c.Blobs = nil
		for _, b := range n.layers[i].Params() {
			c.Blobs = append(c.Blobs, caffe.BlobToProto(b, withDiff))
		}
		np.Layer = append(np.Layer, c)
	}
	return np
}

// Close releases what the net's layers hold open: the data sources of its
// data layers and their prefetch goroutines. The net must not run after
// Close; closing twice is harmless. (A net that is dropped without Close
// has its sources released when it is garbage-collected.)
func (n *Net) Close() error {
	var errs []error
	for i, l := range n.layers {
		if c, ok := l.(io.Closer); ok {
			if err := c.Close(); err != nil {
				errs = append(errs, fmt.Errorf("layer %q: %w", n.layerNames[i], err))
			}
		}
	}
	return errors.Join(errs...)
}
