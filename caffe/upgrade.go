package caffe

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"google.golang.org/protobuf/proto"

	"github.com/sparknet/sparknet/caffe/pb"
)

// The upgrades below mirror Caffe's src/caffe/util/upgrade_proto.cpp
// (master): they turn a net written for an older Caffe into the current
// (V2) form, in place. Where Caffe logs a problem and carries on with a
// partly upgraded net, these return an error naming the layer, so that
// nothing is silently dropped. Blobs are moved, never copied, so upgrading a
// large .caffemodel costs no memory.

// joinErrors combines errors into one single-line error ("a; b") that
// unwraps to all of them; it returns nil for none.
func joinErrors(errs []error) error {
	switch len(errs) {
	case 0:
		return nil
	case 1:
		return errs[0]
	}
	return multiError(errs)
}

type multiError []error

func (m multiError) Error() string {
	s := make([]string, len(m))
	for i, e := range m {
		s[i] = e.Error()
	}
	return strings.Join(s, "; ")
}

func (m multiError) Unwrap() []error { return m }

// NetNeedsUpgrade reports whether net uses any deprecated form that
// UpgradeNetAsNeeded would rewrite.
func NetNeedsUpgrade(net *pb.NetParameter) bool {
	return NetNeedsV0ToV1Upgrade(net) || NetNeedsV1ToV2Upgrade(net) || NetNeedsDataUpgrade(net) ||
		NetNeedsInputUpgrade(net) || NetNeedsBatchNormUpgrade(net)
}

// UpgradeNetAsNeeded applies, in Caffe's order, every upgrade net needs: V0
// layers to V1, V1 data-transformation fields to transform_param, V1 layers
// to V2, net-level inputs to an Input layer, and old BatchNorm param specs.
// It returns the first problem found; net may then be partly upgraded.
func UpgradeNetAsNeeded(net *pb.NetParameter) error {
	if NetNeedsV0ToV1Upgrade(net) {
		if err := UpgradeV0Net(net); err != nil {
			return fmt.Errorf("upgrading V0 layers: %w", err)
		}
	}
	if NetNeedsDataUpgrade(net) {
		UpgradeNetDataTransformation(net)
	}
	if NetNeedsV1ToV2Upgrade(net) {
		if err := UpgradeV1Net(net); err != nil {
			return fmt.Errorf("upgrading V1 layers: %w", err)
		}
	}
	if NetNeedsInputUpgrade(net) {
		if err := UpgradeNetInput(net); err != nil {
			return fmt.Errorf("upgrading net inputs: %w", err)
		}
	}
	if NetNeedsBatchNormUpgrade(net) {
		UpgradeNetBatchNorm(net)
	}
	return nil
}

// NetNeedsV0ToV1Upgrade reports whether any V1 layer wraps a V0 layer
// (`layers { layer { ... } }`).
func NetNeedsV0ToV1Upgrade(net *pb.NetParameter) bool {
	for _, l := range net.GetLayers() {
		if l.Layer != nil {
			return true
		}
	}
	return false
}

// NetNeedsV1ToV2Upgrade reports whether net has V1 `layers` entries.
func NetNeedsV1ToV2Upgrade(net *pb.NetParameter) bool { return len(net.GetLayers()) > 0 }

// v1Name names a V1 layer for error messages.
func v1Name(i int, l *pb.V1LayerParameter) string {
	name := l.GetName()
	if name == "" && l.Layer != nil {
		name = l.Layer.GetName()
	}
	if name == "" {
		return fmt.Sprintf("layers[%d]", i)
	}
	return fmt.Sprintf("layer %q", name)
}

// UpgradeV0Net turns V0 layers (all settings flat in `layer { }` inside
// `layers { }`) into V1 layers with typed parameter messages, first folding
// V0 "padding" layers into the pad of the conv or pool layer they feed.
// Like Caffe, it keeps only the net's name, layers, input, input_dim and
// force_backward. It fails on settings that do not apply to a layer's type
// and on unknown V0 layer types.
func UpgradeV0Net(net *pb.NetParameter) error {
	if err := UpgradeV0PaddingLayers(net); err != nil {
		return err
	}
	var errs []error
	upgraded := make([]*pb.V1LayerParameter, len(net.Layers))
	for i, l := range net.Layers {
		v1, err := UpgradeV0LayerParameter(l)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", v1Name(i, l), err))
		}
		upgraded[i] = v1
	}
	*net = pb.NetParameter{
		Name:          net.Name,
		Layers:        upgraded,
		Input:         net.Input,
		InputDim:      net.InputDim,
		ForceBackward: net.ForceBackward,
	}
	return joinErrors(errs)
}

// UpgradeV0PaddingLayers removes V0 "padding" layers, setting their pad on
// the conv or pool layer that consumes their output and wiring that layer to
// the padding layer's input, as Caffe's function of the same name.
func UpgradeV0PaddingLayers(net *pb.NetParameter) error {
	lastTop := map[string]int{}
	for _, in := range net.Input {
		lastTop[in] = -1
	}
	orig := net.Layers
	kept := make([]*pb.V1LayerParameter, 0, len(orig))
	for i, conn := range orig {
		v0 := conn.GetLayer()
		if v0.GetType() != "padding" {
			kept = append(kept, conn)
		}
		for j, bottom := range conn.Bottom {
			top, ok := lastTop[bottom]
			if !ok {
				return fmt.Errorf("%s: bottom %q is not an input or the top of an earlier layer", v1Name(i, conn), bottom)
			}
			if top == -1 {
				continue
			}
			src := orig[top]
			if src.GetLayer().GetType() != "padding" {
				continue
			}
			if t := v0.GetType(); t != "conv" && t != "pool" {
				return fmt.Errorf("%s: a padding layer feeds a layer of type %q; only conv and pool layers can take one", v1Name(i, conn), t)
			}
			if len(conn.Bottom) != 1 {
				return fmt.Errorf("%s: a layer fed by a padding layer must have exactly one bottom", v1Name(i, conn))
			}
			if len(src.Bottom) != 1 || len(src.Top) != 1 {
				return fmt.Errorf("%s: a padding layer must have exactly one bottom and one top", v1Name(top, src))
			}
			if conn.Layer == nil {
				conn.Layer = &pb.V0LayerParameter{}
			}
			conn.Layer.Pad = proto.Uint32(src.GetLayer().GetPad())
			conn.Bottom[j] = src.Bottom[0]
		}
		for _, t := range conn.Top {
			lastTop[t] = i
		}
	}
	net.Layers = kept
	return nil
}

// UpgradeV0LayerParameter converts one V0-style V1 entry into a V1 layer.
// The returned layer is complete as far as possible even when an error
// reports settings that do not apply to the layer's type.
func UpgradeV0LayerParameter(conn *pb.V1LayerParameter) (*pb.V1LayerParameter, error) {
	out := &pb.V1LayerParameter{Bottom: conn.Bottom, Top: conn.Top}
	v0 := conn.Layer
	if v0 == nil {
		return out, nil
	}
	var errs []error
	bad := func(param string) {
		errs = append(errs, fmt.Errorf("parameter %s does not apply to layer type %q", param, v0.GetType()))
	}
	out.Name = v0.Name
	typ := v0.GetType()
	if v0.Type != nil {
		t, err := UpgradeV0LayerType(typ)
		if err != nil {
			errs = append(errs, err)
		}
		out.Type = t.Enum()
	}
	out.Blobs = v0.Blobs
	out.BlobsLr = v0.BlobsLr
	out.WeightDecay = v0.WeightDecay

	conv := func() *pb.ConvolutionParameter {
		if out.ConvolutionParam == nil {
			out.ConvolutionParam = &pb.ConvolutionParameter{}
		}
		return out.ConvolutionParam
	}
	ip := func() *pb.InnerProductParameter {
		if out.InnerProductParam == nil {
			out.InnerProductParam = &pb.InnerProductParameter{}
		}
		return out.InnerProductParam
	}
	pool := func() *pb.PoolingParameter {
		if out.PoolingParam == nil {
			out.PoolingParam = &pb.PoolingParameter{}
		}
		return out.PoolingParam
	}
	lrn := func() *pb.LRNParameter {
		if out.LrnParam == nil {
			out.LrnParam = &pb.LRNParameter{}
		}
		return out.LrnParam
	}
	data := func() *pb.DataParameter {
		if out.DataParam == nil {
			out.DataParam = &pb.DataParameter{}
		}
		return out.DataParam
	}
	hdf5 := func() *pb.HDF5DataParameter {
		if out.Hdf5DataParam == nil {
			out.Hdf5DataParam = &pb.HDF5DataParameter{}
		}
		return out.Hdf5DataParam
	}
	images := func() *pb.ImageDataParameter {
		if out.ImageDataParam == nil {
			out.ImageDataParam = &pb.ImageDataParameter{}
		}
		return out.ImageDataParam
	}
	window := func() *pb.WindowDataParameter {
		if out.WindowDataParam == nil {
			out.WindowDataParam = &pb.WindowDataParameter{}
		}
		return out.WindowDataParam
	}
	transform := func() *pb.TransformationParameter {
		if out.TransformParam == nil {
			out.TransformParam = &pb.TransformationParameter{}
		}
		return out.TransformParam
	}

	if v0.NumOutput != nil {
		switch typ {
		case "conv":
			conv().NumOutput = v0.NumOutput
		case "innerproduct":
			ip().NumOutput = v0.NumOutput
		default:
			bad("num_output")
		}
	}
	if v0.Biasterm != nil {
		switch typ {
		case "conv":
			conv().BiasTerm = v0.Biasterm
		case "innerproduct":
			ip().BiasTerm = v0.Biasterm
		default:
			bad("biasterm")
		}
	}
	if v0.WeightFiller != nil {
		switch typ {
		case "conv":
			conv().WeightFiller = v0.WeightFiller
		case "innerproduct":
			ip().WeightFiller = v0.WeightFiller
		default:
			bad("weight_filler")
		}
	}
	if v0.BiasFiller != nil {
		switch typ {
		case "conv":
			conv().BiasFiller = v0.BiasFiller
		case "innerproduct":
			ip().BiasFiller = v0.BiasFiller
		default:
			bad("bias_filler")
		}
	}
	if v0.Pad != nil {
		switch typ {
		case "conv":
			conv().Pad = append(conv().Pad, *v0.Pad)
		case "pool":
			pool().Pad = v0.Pad
		default:
			bad("pad")
		}
	}
	if v0.Kernelsize != nil {
		switch typ {
		case "conv":
			conv().KernelSize = append(conv().KernelSize, *v0.Kernelsize)
		case "pool":
			pool().KernelSize = v0.Kernelsize
		default:
			bad("kernelsize")
		}
	}
	if v0.Group != nil {
		if typ == "conv" {
			conv().Group = v0.Group
		} else {
			bad("group")
		}
	}
	if v0.Stride != nil {
		switch typ {
		case "conv":
			conv().Stride = append(conv().Stride, *v0.Stride)
		case "pool":
			pool().Stride = v0.Stride
		default:
			bad("stride")
		}
	}
	if v0.Pool != nil {
		if typ == "pool" {
			switch *v0.Pool {
			case pb.V0LayerParameter_MAX:
				pool().Pool = pb.PoolingParameter_MAX.Enum()
			case pb.V0LayerParameter_AVE:
				pool().Pool = pb.PoolingParameter_AVE.Enum()
			case pb.V0LayerParameter_STOCHASTIC:
				pool().Pool = pb.PoolingParameter_STOCHASTIC.Enum()
			default:
				errs = append(errs, fmt.Errorf("unknown pool method %d", *v0.Pool))
			}
		} else {
			bad("pool")
		}
	}
	if v0.DropoutRatio != nil {
		if typ == "dropout" {
			out.DropoutParam = &pb.DropoutParameter{DropoutRatio: v0.DropoutRatio}
		} else {
			bad("dropout_ratio")
		}
	}
	if v0.LocalSize != nil {
		if typ == "lrn" {
			lrn().LocalSize = v0.LocalSize
		} else {
			bad("local_size")
		}
	}
	if v0.Alpha != nil {
		if typ == "lrn" {
			lrn().Alpha = v0.Alpha
		} else {
			bad("alpha")
		}
	}
	if v0.Beta != nil {
		if typ == "lrn" {
			lrn().Beta = v0.Beta
		} else {
			bad("beta")
		}
	}
	if v0.K != nil {
		if typ == "lrn" {
			lrn().K = v0.K
		} else {
			bad("k")
		}
	}
	if v0.Source != nil {
		switch typ {
		case "data":
			data().Source = v0.Source
		case "hdf5_data":
			hdf5().Source = v0.Source
		case "images":
			images().Source = v0.Source
		case "window_data":
			window().Source = v0.Source
		case "infogain_loss":
			out.InfogainLossParam = &pb.InfogainLossParameter{Source: v0.Source}
		default:
			bad("source")
		}
	}
	if v0.Scale != nil {
		transform().Scale = v0.Scale
	}
	if v0.Meanfile != nil {
		transform().MeanFile = v0.Meanfile
	}
	if v0.Batchsize != nil {
		switch typ {
		case "data":
			data().BatchSize = v0.Batchsize
		case "hdf5_data":
			hdf5().BatchSize = v0.Batchsize
		case "images":
			images().BatchSize = v0.Batchsize
		case "window_data":
			window().BatchSize = v0.Batchsize
		default:
			bad("batchsize")
		}
	}
	if v0.Cropsize != nil {
		transform().CropSize = v0.Cropsize
	}
	if v0.Mirror != nil {
		transform().Mirror = v0.Mirror
	}
	if v0.RandSkip != nil {
		switch typ {
		case "data":
			data().RandSkip = v0.RandSkip
		case "images":
			images().RandSkip = v0.RandSkip
		default:
			bad("rand_skip")
		}
	}
	if v0.ShuffleImages != nil {
		if typ == "images" {
			images().Shuffle = v0.ShuffleImages
		} else {
			bad("shuffle_images")
		}
	}
	if v0.NewHeight != nil {
		if typ == "images" {
			images().NewHeight = proto.Uint32(uint32(*v0.NewHeight))
		} else {
			bad("new_height")
		}
	}
	if v0.NewWidth != nil {
		if typ == "images" {
			images().NewWidth = proto.Uint32(uint32(*v0.NewWidth))
		} else {
			bad("new_width")
		}
	}
	if v0.ConcatDim != nil {
		if typ == "concat" {
			out.ConcatParam = &pb.ConcatParameter{ConcatDim: v0.ConcatDim}
		} else {
			bad("concat_dim")
		}
	}
	if v0.DetFgThreshold != nil {
		if typ == "window_data" {
			window().FgThreshold = v0.DetFgThreshold
		} else {
			bad("det_fg_threshold")
		}
	}
	if v0.DetBgThreshold != nil {
		if typ == "window_data" {
			window().BgThreshold = v0.DetBgThreshold
		} else {
			bad("det_bg_threshold")
		}
	}
	if v0.DetFgFraction != nil {
		if typ == "window_data" {
			window().FgFraction = v0.DetFgFraction
		} else {
			bad("det_fg_fraction")
		}
	}
	if v0.DetContextPad != nil {
		if typ == "window_data" {
			window().ContextPad = v0.DetContextPad
		} else {
			bad("det_context_pad")
		}
	}
	if v0.DetCropMode != nil {
		if typ == "window_data" {
			window().CropMode = v0.DetCropMode
		} else {
			bad("det_crop_mode")
		}
	}
	if v0.Hdf5OutputParam != nil {
		if typ == "hdf5_output" {
			out.Hdf5OutputParam = v0.Hdf5OutputParam
		} else {
			bad("hdf5_output_param")
		}
	}
	return out, joinErrors(errs)
}

var v0LayerTypes = map[string]pb.V1LayerParameter_LayerType{
	"accuracy":                  pb.V1LayerParameter_ACCURACY,
	"bnll":                      pb.V1LayerParameter_BNLL,
	"concat":                    pb.V1LayerParameter_CONCAT,
	"conv":                      pb.V1LayerParameter_CONVOLUTION,
	"data":                      pb.V1LayerParameter_DATA,
	"dropout":                   pb.V1LayerParameter_DROPOUT,
	"euclidean_loss":            pb.V1LayerParameter_EUCLIDEAN_LOSS,
	"flatten":                   pb.V1LayerParameter_FLATTEN,
	"hdf5_data":                 pb.V1LayerParameter_HDF5_DATA,
	"hdf5_output":               pb.V1LayerParameter_HDF5_OUTPUT,
	"im2col":                    pb.V1LayerParameter_IM2COL,
	"images":                    pb.V1LayerParameter_IMAGE_DATA,
	"infogain_loss":             pb.V1LayerParameter_INFOGAIN_LOSS,
	"innerproduct":              pb.V1LayerParameter_INNER_PRODUCT,
	"lrn":                       pb.V1LayerParameter_LRN,
	"multinomial_logistic_loss": pb.V1LayerParameter_MULTINOMIAL_LOGISTIC_LOSS,
	"pool":                      pb.V1LayerParameter_POOLING,
	"relu":                      pb.V1LayerParameter_RELU,
	"sigmoid":                   pb.V1LayerParameter_SIGMOID,
	"softmax":                   pb.V1LayerParameter_SOFTMAX,
	"softmax_loss":              pb.V1LayerParameter_SOFTMAX_LOSS,
	"split":                     pb.V1LayerParameter_SPLIT,
	"tanh":                      pb.V1LayerParameter_TANH,
	"window_data":               pb.V1LayerParameter_WINDOW_DATA,
}

// UpgradeV0LayerType maps a V0 layer type string ("conv", "innerproduct",
// ...) to its V1 enum.
func UpgradeV0LayerType(t string) (pb.V1LayerParameter_LayerType, error) {
	if v, ok := v0LayerTypes[t]; ok {
		return v, nil
	}
	return pb.V1LayerParameter_NONE, fmt.Errorf("unknown V0 layer type %q", t)
}

// NetNeedsDataUpgrade reports whether a V1 Data, ImageData or WindowData
// layer sets scale, mean_file, crop_size or mirror in its own parameters
// instead of transform_param.
func NetNeedsDataUpgrade(net *pb.NetParameter) bool {
	for _, l := range net.GetLayers() {
		switch l.GetType() {
		case pb.V1LayerParameter_DATA:
			if p := l.DataParam; p != nil && (p.Scale != nil || p.MeanFile != nil || p.CropSize != nil || p.Mirror != nil) {
				return true
			}
		case pb.V1LayerParameter_IMAGE_DATA:
			if p := l.ImageDataParam; p != nil && (p.Scale != nil || p.MeanFile != nil || p.CropSize != nil || p.Mirror != nil) {
				return true
			}
		case pb.V1LayerParameter_WINDOW_DATA:
			if p := l.WindowDataParam; p != nil && (p.Scale != nil || p.MeanFile != nil || p.CropSize != nil || p.Mirror != nil) {
				return true
			}
		}
	}
	return false
}

// UpgradeNetDataTransformation moves the deprecated scale, mean_file,
// crop_size and mirror of V1 data layers into their transform_param.
func UpgradeNetDataTransformation(net *pb.NetParameter) {
	move := func(l *pb.V1LayerParameter, scale **float32, mean **string, crop **uint32, mirror **bool) {
		if l.TransformParam == nil {
			l.TransformParam = &pb.TransformationParameter{}
		}
		t := l.TransformParam
		if *scale != nil {
			t.Scale, *scale = *scale, nil
		}
		if *mean != nil {
			t.MeanFile, *mean = *mean, nil
		}
		if *crop != nil {
			t.CropSize, *crop = *crop, nil
		}
		if *mirror != nil {
			t.Mirror, *mirror = *mirror, nil
		}
	}
	for _, l := range net.GetLayers() {
		switch l.GetType() {
		case pb.V1LayerParameter_DATA:
			if l.DataParam == nil {
				l.DataParam = &pb.DataParameter{}
			}
			p := l.DataParam
			move(l, &p.Scale, &p.MeanFile, &p.CropSize, &p.Mirror)
		case pb.V1LayerParameter_IMAGE_DATA:
			if l.ImageDataParam == nil {
				l.ImageDataParam = &pb.ImageDataParameter{}
			}
			p := l.ImageDataParam
			move(l, &p.Scale, &p.MeanFile, &p.CropSize, &p.Mirror)
		case pb.V1LayerParameter_WINDOW_DATA:
			if l.WindowDataParam == nil {
				l.WindowDataParam = &pb.WindowDataParameter{}
			}
			p := l.WindowDataParam
			move(l, &p.Scale, &p.MeanFile, &p.CropSize, &p.Mirror)
		}
	}
}

// UpgradeV1Net turns V1 `layers` entries into V2 `layer` entries, keeping
// every other net field. A net that has both is an error (Caffe would drop
// the `layer` entries).
func UpgradeV1Net(net *pb.NetParameter) error {
	if len(net.Layer) > 0 && len(net.Layers) > 0 {
		return fmt.Errorf("the net has both V2 'layer' and V1 'layers' entries; Caffe would ignore the %d 'layer' entries: write all layers in one form", len(net.Layer))
	}
	var errs []error
	layers := make([]*pb.LayerParameter, len(net.Layers))
	for i, l := range net.Layers {
		v2, err := UpgradeV1LayerParameter(l)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", v1Name(i, l), err))
		}
		layers[i] = v2
	}
	net.Layer = layers
	net.Layers = nil
	return joinErrors(errs)
}

// UpgradeV1LayerParameter converts a V1 layer to a V2 LayerParameter: the
// type enum becomes its type name, param/blob_share_mode/blobs_lr/
// weight_decay become ParamSpecs, and the typed parameter messages and
// blobs move over unchanged.
func UpgradeV1LayerParameter(v1 *pb.V1LayerParameter) (*pb.LayerParameter, error) {
	l := &pb.LayerParameter{
		Name:    v1.Name,
		Bottom:  v1.Bottom,
		Top:     v1.Top,
		Include: v1.Include,
		Exclude: v1.Exclude,
		Blobs:   v1.Blobs,

		LossWeight: v1.LossWeight,

		AccuracyParam:        v1.AccuracyParam,
		ArgmaxParam:          v1.ArgmaxParam,
		ConcatParam:          v1.ConcatParam,
		ContrastiveLossParam: v1.ContrastiveLossParam,
		ConvolutionParam:     v1.ConvolutionParam,
		DataParam:            v1.DataParam,
		DropoutParam:         v1.DropoutParam,
		DummyDataParam:       v1.DummyDataParam,
		EltwiseParam:         v1.EltwiseParam,
		ExpParam:             v1.ExpParam,
		Hdf5DataParam:        v1.Hdf5DataParam,
		Hdf5OutputParam:      v1.Hdf5OutputParam,
		HingeLossParam:       v1.HingeLossParam,
		ImageDataParam:       v1.ImageDataParam,
		InfogainLossParam:    v1.InfogainLossParam,
		InnerProductParam:    v1.InnerProductParam,
		LrnParam:             v1.LrnParam,
		MemoryDataParam:      v1.MemoryDataParam,
		MvnParam:             v1.MvnParam,
		PoolingParam:         v1.PoolingParam,
		PowerParam:           v1.PowerParam,
		ReluParam:            v1.ReluParam,
		SigmoidParam:         v1.SigmoidParam,
		SoftmaxParam:         v1.SoftmaxParam,
		SliceParam:           v1.SliceParam,
		TanhParam:            v1.TanhParam,
		ThresholdParam:       v1.ThresholdParam,
		WindowDataParam:      v1.WindowDataParam,
		TransformParam:       v1.TransformParam,
		LossParam:            v1.LossParam,
	}
	var errs []error
	if v1.Type != nil {
		t, err := UpgradeV1LayerType(*v1.Type)
		if err != nil {
			errs = append(errs, err)
		} else {
			l.Type = proto.String(t)
		}
	}
	spec := func(i int) *pb.ParamSpec {
		for len(l.Param) <= i {
			l.Param = append(l.Param, &pb.ParamSpec{})
		}
		return l.Param[i]
	}
	for i, name := range v1.Param {
		spec(i).Name = proto.String(name)
	}
	for i, mode := range v1.BlobShareMode {
		switch mode {
		case pb.V1LayerParameter_STRICT:
			spec(i).ShareMode = pb.ParamSpec_STRICT.Enum()
		case pb.V1LayerParameter_PERMISSIVE:
			spec(i).ShareMode = pb.ParamSpec_PERMISSIVE.Enum()
		default:
			errs = append(errs, fmt.Errorf("unknown blob_share_mode %d", mode))
		}
	}
	for i, lr := range v1.BlobsLr {
		spec(i).LrMult = proto.Float32(lr)
	}
	for i, wd := range v1.WeightDecay {
		spec(i).DecayMult = proto.Float32(wd)
	}
	if v1.Layer != nil {
		errs = append(errs, errors.New("has a V0 'layer' inside a V1 entry that was not upgraded"))
	}
	return l, joinErrors(errs)
}

var v1LayerTypes = map[pb.V1LayerParameter_LayerType]string{
	pb.V1LayerParameter_NONE:                       "",
	pb.V1LayerParameter_ABSVAL:                     "AbsVal",
	pb.V1LayerParameter_ACCURACY:                   "Accuracy",
	pb.V1LayerParameter_ARGMAX:                     "ArgMax",
	pb.V1LayerParameter_BNLL:                       "BNLL",
	pb.V1LayerParameter_CONCAT:                     "Concat",
	pb.V1LayerParameter_CONTRASTIVE_LOSS:           "ContrastiveLoss",
	pb.V1LayerParameter_CONVOLUTION:                "Convolution",
	pb.V1LayerParameter_DECONVOLUTION:              "Deconvolution",
	pb.V1LayerParameter_DATA:                       "Data",
	pb.V1LayerParameter_DROPOUT:                    "Dropout",
	pb.V1LayerParameter_DUMMY_DATA:                 "DummyData",
	pb.V1LayerParameter_EUCLIDEAN_LOSS:             "EuclideanLoss",
	pb.V1LayerParameter_ELTWISE:                    "Eltwise",
	pb.V1LayerParameter_EXP:                        "Exp",
	pb.V1LayerParameter_FLATTEN:                    "Flatten",
	pb.V1LayerParameter_HDF5_DATA:                  "HDF5Data",
	pb.V1LayerParameter_HDF5_OUTPUT:                "HDF5Output",
	pb.V1LayerParameter_HINGE_LOSS:                 "HingeLoss",
	pb.V1LayerParameter_IM2COL:                     "Im2col",
	pb.V1LayerParameter_IMAGE_DATA:                 "ImageData",
	pb.V1LayerParameter_INFOGAIN_LOSS:              "InfogainLoss",
	pb.V1LayerParameter_INNER_PRODUCT:              "InnerProduct",
	pb.V1LayerParameter_LRN:                        "LRN",
	pb.V1LayerParameter_MEMORY_DATA:                "MemoryData",
	pb.V1LayerParameter_MULTINOMIAL_LOGISTIC_LOSS:  "MultinomialLogisticLoss",
	pb.V1LayerParameter_MVN:                        "MVN",
	pb.V1LayerParameter_POOLING:                    "Pooling",
	pb.V1LayerParameter_POWER:                      "Power",
	pb.V1LayerParameter_RELU:                       "ReLU",
	pb.V1LayerParameter_SIGMOID:                    "Sigmoid",
	pb.V1LayerParameter_SIGMOID_CROSS_ENTROPY_LOSS: "SigmoidCrossEntropyLoss",
	pb.V1LayerParameter_SILENCE:                    "Silence",
	pb.V1LayerParameter_SOFTMAX:                    "Softmax",
	pb.V1LayerParameter_SOFTMAX_LOSS:               "SoftmaxWithLoss",
	pb.V1LayerParameter_SPLIT:                      "Split",
	pb.V1LayerParameter_SLICE:                      "Slice",
	pb.V1LayerParameter_TANH:                       "TanH",
	pb.V1LayerParameter_WINDOW_DATA:                "WindowData",
	pb.V1LayerParameter_THRESHOLD:                  "Threshold",
}

// UpgradeV1LayerType maps a V1 layer type enum to its V2 type name
// (CONVOLUTION -> "Convolution", SOFTMAX_LOSS -> "SoftmaxWithLoss", ...).
func UpgradeV1LayerType(t pb.V1LayerParameter_LayerType) (string, error) {
	if s, ok := v1LayerTypes[t]; ok {
		return s, nil
	}
	return "", fmt.Errorf("unknown V1 layer type %d", t)
}

// NetNeedsInputUpgrade reports whether net declares net-level inputs.
func NetNeedsInputUpgrade(net *pb.NetParameter) bool { return len(net.GetInput()) > 0 }

// UpgradeNetInput replaces the deprecated net-level input / input_shape /
// input_dim fields with an Input layer named "input" placed first, with one
// top and one shape per input. Inputs without any shape (a legacy
// .caffemodel) are simply dropped, as Caffe does.
func UpgradeNetInput(net *pb.NetParameter) error {
	hasShape, hasDim := len(net.InputShape) > 0, len(net.InputDim) > 0
	switch {
	case hasShape && hasDim:
		return errors.New("both input_shape and input_dim are given; use input_shape only")
	case hasShape && len(net.InputShape) != len(net.Input):
		return fmt.Errorf("%d inputs but %d input_shape entries; give one shape per input", len(net.Input), len(net.InputShape))
	case hasDim && len(net.InputDim) != 4*len(net.Input):
		return fmt.Errorf("%d inputs but %d input_dim values; give four (num, channels, height, width) per input", len(net.Input), len(net.InputDim))
	}
	if hasShape || hasDim {
		in := &pb.LayerParameter{
			Name:       proto.String("input"),
			Type:       proto.String("Input"),
			Top:        slices.Clone(net.Input),
			InputParam: &pb.InputParameter{},
		}
		for i := range net.Input {
			if hasShape {
				in.InputParam.Shape = append(in.InputParam.Shape, net.InputShape[i])
			} else {
				in.InputParam.Shape = append(in.InputParam.Shape, &pb.BlobShape{
					Dim: []int64{int64(net.InputDim[4*i]), int64(net.InputDim[4*i+1]), int64(net.InputDim[4*i+2]), int64(net.InputDim[4*i+3])},
				})
			}
		}
		net.Layer = append([]*pb.LayerParameter{in}, net.Layer...)
	}
	net.Input, net.InputShape, net.InputDim = nil, nil, nil
	return nil
}

// NetNeedsBatchNormUpgrade reports whether a BatchNorm layer declares three
// param specs, as the original BatchNorm definition required.
func NetNeedsBatchNormUpgrade(net *pb.NetParameter) bool {
	for _, l := range net.GetLayer() {
		if l.GetType() == "BatchNorm" && len(l.Param) == 3 {
			return true
		}
	}
	return false
}

// UpgradeNetBatchNorm sets lr_mult and decay_mult to 0 in the three param
// specs of old-style BatchNorm layers, keeping their names (for sharing),
// as Caffe master does: BatchNorm's blobs are statistics, not learned.
func UpgradeNetBatchNorm(net *pb.NetParameter) {
	for _, l := range net.GetLayer() {
		if l.GetType() == "BatchNorm" && len(l.Param) == 3 {
			for _, p := range l.Param {
				p.LrMult = proto.Float32(0)
				p.DecayMult = proto.Float32(0)
			}
		}
	}
}

// SolverNeedsTypeUpgrade reports whether sp uses the deprecated solver_type
// enum.
func SolverNeedsTypeUpgrade(sp *pb.SolverParameter) bool { return sp.SolverType != nil }

var solverTypeNames = map[pb.SolverParameter_SolverType]string{
	pb.SolverParameter_SGD:      "SGD",
	pb.SolverParameter_NESTEROV: "Nesterov",
	pb.SolverParameter_ADAGRAD:  "AdaGrad",
	pb.SolverParameter_RMSPROP:  "RMSProp",
	pb.SolverParameter_ADADELTA: "AdaDelta",
	pb.SolverParameter_ADAM:     "Adam",
}

// UpgradeSolverType replaces the deprecated solver_type enum by the type
// string (NESTEROV -> "Nesterov", ...). Giving both is an error, as in
// Caffe.
func UpgradeSolverType(sp *pb.SolverParameter) error {
	if sp.SolverType == nil {
		return nil
	}
	if sp.Type != nil {
		return errors.New("both the deprecated solver_type and type are given; use type only")
	}
	name, ok := solverTypeNames[*sp.SolverType]
	if !ok {
		return fmt.Errorf("unknown solver_type %d", *sp.SolverType)
	}
	sp.Type = proto.String(name)
	sp.SolverType = nil
	return nil
}

// UpgradeSolverAsNeeded applies every upgrade sp needs (currently the
// solver_type enum to the type string).
func UpgradeSolverAsNeeded(sp *pb.SolverParameter) error {
	if SolverNeedsTypeUpgrade(sp) {
		if err := UpgradeSolverType(sp); err != nil {
			return fmt.Errorf("upgrading solver_type: %w", err)
		}
	}
	return nil
}

// UpgradeLegacyBlobs rewrites the deprecated 4-D num/channels/height/width
// dimensions of the blobs of InnerProduct, Convolution and Deconvolution
// layers as the shape Caffe gives those parameters today: weights
// 1x1xNxK -> NxK for InnerProduct (4-D unchanged for convolutions), biases
// 1x1x1xN -> N. These are exactly the shapes such a blob takes when Caffe
// loads the legacy blob into the layer and writes it back, so the result
// loads wherever the original did. Blobs of other layer types keep their
// legacy dimensions, which readers still accept. It returns how many blobs
// it rewrote.
func UpgradeLegacyBlobs(net *pb.NetParameter) int {
	n := 0
	for _, l := range net.GetLayer() {
		var rank []int // axes of each param blob
		switch l.GetType() {
		case "InnerProduct":
			rank = []int{2, 1}
		case "Convolution", "Deconvolution":
			rank = []int{4, 1}
		default:
			continue
		}
		for i, b := range l.Blobs {
			if i >= len(rank) || !hasLegacyShape(b) {
				continue
			}
			legacy := []int64{int64(b.GetNum()), int64(b.GetChannels()), int64(b.GetHeight()), int64(b.GetWidth())}
			lead := legacy[:4-rank[i]]
			if slices.ContainsFunc(lead, func(d int64) bool { return d != 1 }) {
				continue
			}
			b.Shape = &pb.BlobShape{Dim: slices.Clone(legacy[4-rank[i]:])}
			b.Num, b.Channels, b.Height, b.Width = nil, nil, nil, nil
			n++
		}
	}
	return n
}
