package nn

import (
	"fmt"
	"strconv"

	"google.golang.org/protobuf/proto"

	"github.com/sparknet/sparknet/caffe/pb"
)

// FilterNet returns a copy of param holding only the layers whose
// include/exclude rules admit param.State, as Caffe's Net::FilterNet: a
// layer with no include rules is kept unless an exclude rule is met; a layer
// with include rules is kept if one of them is met. A layer with both kinds
// of rules is an error.
func FilterNet(param *pb.NetParameter) (*pb.NetParameter, error) {
	state := param.GetState()
	out := proto.Clone(param).(*pb.NetParameter)
	out.Layer = nil
	for i, lp := range param.GetLayer() {
		if len(lp.Include) > 0 && len(lp.Exclude) > 0 {
			return nil, fmt.Errorf("%s: specify either include rules or exclude rules; not both", layerLabel(i, lp))
		}
		included := len(lp.Include) == 0
		for _, r := range lp.Exclude {
			if StateMeetsRule(state, r) {
				included = false
				break
			}
		}
		for _, r := range lp.Include {
			if StateMeetsRule(state, r) {
				included = true
				break
			}
		}
		if included {
			out.Layer = append(out.Layer, proto.Clone(lp).(*pb.LayerParameter))
		}
	}
	return out, nil
}

// StateMeetsRule reports whether state meets rule, as Caffe's
// Net::StateMeetsRule: the phase (if the rule has one) must be equal, the
// level within [min_level, max_level] (where given), every stage of the rule
// must be in the state, and no not_stage of the rule may be.
func StateMeetsRule(state *pb.NetState, rule *pb.NetStateRule) bool {
	if rule.Phase != nil && rule.GetPhase() != state.GetPhase() {
		return false
	}
	if rule.MinLevel != nil && state.GetLevel() < rule.GetMinLevel() {
		return false
	}
	if rule.MaxLevel != nil && state.GetLevel() > rule.GetMaxLevel() {
		return false
	}
	has := func(s string) bool {
		for _, t := range state.GetStage() {
			if t == s {
				return true
			}
		}
		return false
	}
	for _, s := range rule.GetStage() {
		if !has(s) {
			return false
		}
	}
	for _, s := range rule.GetNotStage() {
		if has(s) {
			return false
		}
	}
	return true
}

// InsertSplits returns a copy of param in which every blob that feeds more
// than one bottom (or a bottom and a nonzero loss_weight) goes through a
// Split layer, as Caffe's InsertSplits: the Split layer for top j of layer L
// producing blob B is named "B_L_j_split" and its tops "B_L_j_split_k"; the
// k-th consumer reads top k. When the blob carries a loss weight, the split's
// first top takes it over from the producing layer.
func InsertSplits(param *pb.NetParameter) (*pb.NetParameter, error) {
	type ref struct{ layer, idx int }
	out := proto.Clone(param).(*pb.NetParameter)
	out.Layer = nil
	lastTop := map[string]ref{}
	bottomSrc := map[ref]ref{}
	useCount := map[ref]int{}
	lossWeight := map[ref]float32{}
	splitIdx := map[ref]int{}
	layerName := map[int]string{-1: "input"}
	for i, name := range param.GetInput() {
		lastTop[name] = ref{-1, i}
	}
	for i, lp := range param.GetLayer() {
		layerName[i] = lp.GetName()
		for j, b := range lp.Bottom {
			src, ok := lastTop[b]
			if !ok {
				return nil, fmt.Errorf("%s: unknown bottom blob %q (bottom index %d)", layerLabel(i, lp), b, j)
			}
			bottomSrc[ref{i, j}] = src
			useCount[src]++
		}
		for j, t := range lp.Top {
			lastTop[t] = ref{i, j}
		}
		for j := 0; j < min(len(lp.LossWeight), len(lp.Top)); j++ {
			tr := lastTop[lp.Top[j]]
			lossWeight[tr] = lp.LossWeight[j]
			if lp.LossWeight[j] != 0 {
				useCount[tr]++
			}
		}
	}
	for i, name := range param.GetInput() {
		if n := useCount[ref{-1, i}]; n > 1 {
			out.Layer = append(out.Layer, splitLayer(layerName[-1], name, i, n, 0))
		}
	}
	for i, lp := range param.GetLayer() {
		c := proto.Clone(lp).(*pb.LayerParameter)
		out.Layer = append(out.Layer, c)
		for j, b := range c.Bottom {
			src := bottomSrc[ref{i, j}]
			if useCount[src] > 1 {
				c.Bottom[j] = SplitBlobName(layerName[src.layer], b, src.idx, splitIdx[src])
				splitIdx[src]++
			}
		}
		for j, t := range c.Top {
			tr := ref{i, j}
			if n := useCount[tr]; n > 1 {
				w := lossWeight[tr]
				out.Layer = append(out.Layer, splitLayer(layerName[i], t, j, n, w))
				if w != 0 {
					c.LossWeight = nil
					splitIdx[tr]++
				}
			}
		}
	}
	return out, nil
}

// splitLayer is Caffe's ConfigureSplitLayer.
func splitLayer(layer, blob string, idx, count int, lossWeight float32) *pb.LayerParameter {
	p := &pb.LayerParameter{
		Name:   proto.String(SplitLayerName(layer, blob, idx)),
		Type:   proto.String("Split"),
		Bottom: []string{blob},
	}
	for k := 0; k < count; k++ {
		p.Top = append(p.Top, SplitBlobName(layer, blob, idx, k))
		if lossWeight != 0 {
			if k == 0 {
				p.LossWeight = append(p.LossWeight, lossWeight)
			} else {
				p.LossWeight = append(p.LossWeight, 0)
			}
		}
	}
	return p
}

// SplitLayerName is the name of the Split layer for top idx of layer, which
// produces blob: "<blob>_<layer>_<idx>_split".
func SplitLayerName(layer, blob string, idx int) string {
	return blob + "_" + layer + "_" + strconv.Itoa(idx) + "_split"
}

// SplitBlobName is the name of top k of that Split layer:
// "<blob>_<layer>_<idx>_split_<k>".
func SplitBlobName(layer, blob string, idx, k int) string {
	return SplitLayerName(layer, blob, idx) + "_" + strconv.Itoa(k)
}

// layerLabel names a layer for messages: `layer "conv1" (Convolution)`.
func layerLabel(i int, lp *pb.LayerParameter) string {
	s := fmt.Sprintf("layer %q", lp.GetName())
	if lp.GetName() == "" {
		s = fmt.Sprintf("layer #%d", i)
	}
	if lp.GetType() != "" {
		s += " (" + lp.GetType() + ")"
	}
	return s
}
