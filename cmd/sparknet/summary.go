package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"

	"google.golang.org/protobuf/proto"

	"github.com/sparknet/sparknet/caffe"
	"github.com/sparknet/sparknet/caffe/pb"
	"github.com/sparknet/sparknet/layers"
	"github.com/sparknet/sparknet/nn"
	"github.com/sparknet/sparknet/tensor"
)

// summaryStdout receives the summary (a variable for tests).
var summaryStdout io.Writer = os.Stdout

var summaryFlags struct {
	model, weights, phase, format, stage, shapes string
	level                                        int
}

func init() {
	register(&Command{
		Name:      "summary",
		UsageLine: "-model FILE [-phase TRAIN|TEST] [-weights W.caffemodel] [-format text|tsv]",
		Short:     "list a net's layers, shapes and parameter counts",
		Long: `Summary builds the net of -model for a phase and lists every layer in order
with its type, the shape of each top blob and its number of parameters, then
the totals: parameters, activation memory (the top blobs, in-place tops
counted once) and forward multiply-adds (Convolution, Deconvolution and
InnerProduct layers). Split layers that the net inserts are not listed.

-format tsv prints one line per top blob, "layer<TAB>type<TAB>top<TAB>shape",
the shape as dimensions joined by "x".

Data layers whose source is missing are replaced by synthetic input of the
shape the layer would produce (batch size, crop size and channels from its
parameters), with a note on stderr; the listing keeps their declared type.
Caffe takes a data layer's shape from its first record, so where only the
data can tell (HDF5 datasets, image pairs stored as 2-channel images, images
that are not cropped) give the real shapes with -input-shape, e.g.
-input-shape data=10x4,label=10. Nets whose layers depend on a stage (Caffe's
MNIST autoencoder in the TEST phase) need -stage.`,
		SetFlags: func(fs *flag.FlagSet) {
			f := &summaryFlags
			fs.StringVar(&f.model, "model", "", "the model definition (prototxt)")
			fs.StringVar(&f.weights, "weights", "", "optional weights (.caffemodel) to check against the net")
			fs.StringVar(&f.phase, "phase", "TEST", "net phase: TRAIN or TEST")
			fs.StringVar(&f.format, "format", "text", "output format: text or tsv")
			fs.IntVar(&f.level, "level", 0, "net level")
			fs.StringVar(&f.stage, "stage", "", "net stages, comma-separated")
			fs.StringVar(&f.shapes, "input-shape", "", "shapes of synthetic data tops, e.g. data=64x1x28x28,label=64")
		},
		Run: runSummary,
	})
}

func runSummary(ctx context.Context, args []string) error {
	f := &summaryFlags
	if len(args) > 0 {
		return fmt.Errorf("unexpected arguments %q: %w", args, errUsage)
	}
	if f.model == "" {
		return fmt.Errorf("need a model definition (-model): %w", errUsage)
	}
	if f.format != "text" && f.format != "tsv" {
		return fmt.Errorf("-format must be text or tsv, not %q: %w", f.format, errUsage)
	}
	phase, err := parsePhase(f.phase)
	if err != nil {
		return err
	}
	in, err := buildInspectionNet(f.model, phase, f.level, f.stage, f.shapes, os.Stderr)
	if err != nil {
		return err
	}
	if f.weights != "" {
		w, err := caffe.LoadWeights(f.weights)
		if err != nil {
			return err
		}
		if err := in.net.CopyTrainedLayersFrom(w); err != nil {
			return fmt.Errorf("%s: %w", f.weights, err)
		}
	}
	if f.format == "tsv" {
		return writeSummaryTSV(summaryStdout, in)
	}
	return writeSummaryText(summaryStdout, in)
}

// parsePhase reads a -phase flag.
func parsePhase(s string) (pb.Phase, error) {
	switch strings.ToUpper(s) {
	case "TRAIN":
		return pb.Phase_TRAIN, nil
	case "TEST":
		return pb.Phase_TEST, nil
	}
	return 0, fmt.Errorf("-phase must be TRAIN or TEST, not %q: %w", s, errUsage)
}

// inspected is a net built for summary and time, with what its prototxt
// declared.
type inspected struct {
	net *nn.Net
	// declared holds the names of the layers the prototxt declares for the
	// phase, so that inserted Split layers can be told apart.
	declared map[string]bool
	// synthetic maps the name of each data layer replaced by synthetic
	// input (a DummyData layer in net) to its declared type.
	synthetic map[string]string
}

// layerType is the type layer i was declared with: a data layer replaced by
// synthetic input keeps its own.
func (in *inspected) layerType(i int) string {
	typ := in.net.LayerParams()[i].GetType()
	if orig, ok := in.synthetic[in.net.LayerNames()[i]]; ok && typ == "DummyData" {
		return orig
	}
	return typ
}

// listed reports whether layer i is shown: inserted Split layers are not.
func (in *inspected) listed(i int) bool {
	return in.declared[in.net.LayerNames()[i]] || in.net.LayerParams()[i].GetType() != "Split"
}

// buildInspectionNet loads and builds a net for summary and time. Data
// layers of the phase whose source is missing (or whose type is not
// available) become DummyData layers of the shapes they would produce, with
// a note on notes.
func buildInspectionNet(model string, phase pb.Phase, level int, stages, shapes string, notes io.Writer) (*inspected, error) {
	np, err := caffe.LoadNet(model)
	if err != nil {
		return nil, err
	}
	overrides, err := parseShapeOverrides(shapes)
	if err != nil {
		return nil, err
	}
	state := &pb.NetState{Phase: phase.Enum(), Level: proto.Int32(int32(level))}
	for _, s := range strings.Split(stages, ",") {
		if s != "" {
			state.Stage = append(state.Stage, s)
		}
	}
	np.State = state
	hint := stageHint(np, state)
	// Only the layers of this phase, level and stages: notes are about
	// them alone.
	np, err = nn.FilterNet(np)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", model, err)
	}
	in := &inspected{declared: map[string]bool{}, synthetic: map[string]string{}}
	for _, l := range np.Layer {
		in.declared[l.GetName()] = true
	}
	synth := synthesizeDataLayers(np, overrides)
	for _, s := range synth {
		in.synthetic[s.layer] = s.typ
		fmt.Fprintf(notes, "note: %s\n", s.note)
	}
	in.net, err = nn.New(np, state, nn.Options{})
	if err != nil {
		if len(synth) > 0 && len(overrides) == 0 {
			// The guessed shapes may be what broke the net.
			hint += fmt.Sprintf("\n(the shapes of the synthetic input above are guesses: give the real ones with -input-shape, e.g. -input-shape %s)", exampleShapes(synth))
		}
		return nil, fmt.Errorf("%s: %w%s", model, err, hint)
	}
	return in, nil
}

// stageHint returns a hint naming the stages that some layers of np are
// included for but state does not give (a net may have no data layer
// without its stage, as Caffe's MNIST autoencoder in the TEST phase), or "".
func stageHint(np *pb.NetParameter, state *pb.NetState) string {
	given := map[string]bool{}
	for _, s := range state.GetStage() {
		given[s] = true
	}
	var missing []string
	seen := map[string]bool{}
	for _, l := range np.Layer {
		for _, rule := range l.Include {
			if rule.Phase != nil && rule.GetPhase() != state.GetPhase() {
				continue
			}
			for _, s := range rule.Stage {
				if !given[s] && !seen[s] {
					seen[s] = true
					missing = append(missing, strconv.Quote(s))
				}
			}
		}
	}
	if len(missing) == 0 {
		return ""
	}
	return fmt.Sprintf("\n(some layers of phase %s are only included for stage %s: give the stages with -stage)", state.GetPhase(), strings.Join(missing, ", "))
}

// exampleShapes is an -input-shape value naming the tops of the synthetic
// data layers, with the guessed shapes.
func exampleShapes(synth []synthesized) string {
	var parts []string
	for _, s := range synth {
		for i, top := range s.tops {
			parts = append(parts, top+"="+tensor.JoinDims(s.shapes[i]))
		}
	}
	return strings.Join(parts, ",")
}

// parseShapeOverrides reads "name=AxBxC,name2=D".
func parseShapeOverrides(s string) (map[string][]int, error) {
	out := map[string][]int{}
	for _, item := range strings.Split(s, ",") {
		if item == "" {
			continue
		}
		name, dims, ok := strings.Cut(item, "=")
		if !ok || name == "" {
			return nil, fmt.Errorf("-input-shape: %q is not NAME=DIMS (e.g. data=64x3x32x32): %w", item, errUsage)
		}
		var shape []int
		for _, d := range strings.Split(dims, "x") {
			v, err := strconv.Atoi(d)
			if err != nil || v <= 0 {
				return nil, fmt.Errorf("-input-shape: %q: dimension %q is not a positive integer: %w", item, d, errUsage)
			}
			shape = append(shape, v)
		}
		out[name] = shape
	}
	return out, nil
}

// fileDataTypes are the data layers that read a source named in their
// parameters.
var fileDataTypes = map[string]bool{"Data": true, "ImageData": true, "HDF5Data": true, "WindowData": true}

// dataSource returns the source a data layer reads.
func dataSource(lp *pb.LayerParameter) string {
	switch lp.GetType() {
	case "Data":
		return lp.GetDataParam().GetSource()
	case "ImageData":
		return lp.GetImageDataParam().GetSource()
	case "HDF5Data":
		return lp.GetHdf5DataParam().GetSource()
	case "WindowData":
		return lp.GetWindowDataParam().GetSource()
	}
	return ""
}

// synthesized describes a data layer replaced by synthetic input.
type synthesized struct {
	layer  string
	typ    string // the declared type
	tops   []string
	shapes [][]int
	note   string
}

// synthesizeDataLayers replaces, in place, the data layers of np that cannot
// run (missing source, or a type not built in) by DummyData layers, and
// describes each.
func synthesizeDataLayers(np *pb.NetParameter, overrides map[string][]int) []synthesized {
	registered := map[string]bool{}
	for _, t := range layers.Types() {
		registered[t] = true
	}
	var out []synthesized
	for _, lp := range np.Layer {
		typ := lp.GetType()
		if !fileDataTypes[typ] && (registered[typ] || !strings.HasSuffix(typ, "Data")) {
			continue
		}
		src := dataSource(lp)
		why := ""
		switch {
		case !registered[typ]:
			why = fmt.Sprintf("type %s is not available", typ)
		case src == "":
			why = "no source is given"
		default:
			if _, err := os.Stat(src); err == nil {
				continue
			}
			why = fmt.Sprintf("source %q is missing", src)
		}
		shapes := guessDataShapes(lp, overrides)
		dp := &pb.DummyDataParameter{}
		var desc []string
		for i, top := range lp.Top {
			dims := make([]int64, len(shapes[i]))
			for j, d := range shapes[i] {
				dims[j] = int64(d)
			}
			dp.Shape = append(dp.Shape, &pb.BlobShape{Dim: dims})
			if i == 0 {
				dp.DataFiller = append(dp.DataFiller, &pb.FillerParameter{Type: proto.String("gaussian"), Std: proto.Float32(1)})
			} else {
				dp.DataFiller = append(dp.DataFiller, &pb.FillerParameter{Type: proto.String("constant")})
			}
			desc = append(desc, top+" "+tensor.JoinDims(shapes[i]))
		}
		out = append(out, synthesized{
			layer:  lp.GetName(),
			typ:    typ,
			tops:   lp.Top,
			shapes: shapes,
			note:   fmt.Sprintf("layer %q (%s): %s; using synthetic input %s", lp.GetName(), typ, why, strings.Join(desc, ", ")),
		})
		*lp = pb.LayerParameter{
			Name:           lp.Name,
			Type:           proto.String("DummyData"),
			Top:            lp.Top,
			Include:        lp.Include,
			Exclude:        lp.Exclude,
			Phase:          lp.Phase,
			DummyDataParam: dp,
		}
	}
	return out
}

// guessDataShapes returns the shape of each top of a data layer: the data
// is batch x channels x height x width with the crop size (or the resize of
// ImageData) as height and width; channels come from the mean values, the
// color flags or an MNIST-like scale of 1/256 or 1/255; other tops (labels)
// are vectors of batch size. Without a crop or resize, 1-channel data is
// taken as 28x28 (MNIST-like) and 3-channel data as 32x32 (CIFAR-like).
// overrides (by top name) win.
//
// Caffe takes these shapes from the first record of the data, so a guess
// can be wrong where only the data tells: HDF5 datasets (any shape), image
// pairs stored as 2-channel images (the siamese example), uncropped images
// of other sizes. -input-shape gives the real shapes.
func guessDataShapes(lp *pb.LayerParameter, overrides map[string][]int) [][]int {
	tp := lp.GetTransformParam()
	batch, crop := 1, int(tp.GetCropSize())
	scale := tp.GetScale()
	meanFile := tp.GetMeanFile() != ""
	channels := 0
	switch lp.GetType() {
	case "Data":
		p := lp.GetDataParam()
		batch = int(p.GetBatchSize())
		crop = max(crop, int(p.GetCropSize()))
		meanFile = meanFile || p.GetMeanFile() != ""
	case "ImageData":
		p := lp.GetImageDataParam()
		batch = int(p.GetBatchSize())
		crop = max(crop, int(p.GetCropSize()))
		if crop == 0 && p.GetNewHeight() > 0 {
			crop = int(p.GetNewHeight())
		}
		if !p.GetIsColor() {
			channels = 1
		}
	case "HDF5Data":
		batch = int(lp.GetHdf5DataParam().GetBatchSize())
	case "WindowData":
		p := lp.GetWindowDataParam()
		batch = int(p.GetBatchSize())
		crop = max(crop, int(p.GetCropSize()))
	}
	batch = max(batch, 1)
	if channels == 0 {
		switch {
		case len(tp.GetMeanValue()) == 1 || tp.GetForceGray():
			channels = 1
		case len(tp.GetMeanValue()) == 3 || tp.GetForceColor() || crop > 0 || meanFile:
			channels = 3
		case near(scale, 1.0/256) || near(scale, 1.0/255):
			// MNIST's examples scale its bytes by 1/256 (LeNet) or 1/255
			// (the autoencoder).
			channels = 1
		default:
			channels = 3
		}
	}
	size := crop
	if size == 0 {
		size = 32
		if channels == 1 {
			size = 28
		}
	}
	shapes := make([][]int, len(lp.Top))
	for i, top := range lp.Top {
		switch {
		case overrides[top] != nil:
			shapes[i] = overrides[top]
		case i == 0:
			shapes[i] = []int{batch, channels, size, size}
		default:
			shapes[i] = []int{batch}
		}
	}
	return shapes
}

// near reports whether a is within a relative 1e-6 of b (prototxt files
// write 1/255 with varying digits).
func near(a float32, b float64) bool {
	return math.Abs(float64(a)-b) <= 1e-6*b
}

// layerParamCounts returns the number of parameters each layer owns (shared
// parameters count with their owner only).
func layerParamCounts(net *nn.Net) []int {
	counts := make([]int, len(net.Layers()))
	owned := map[*tensor.Blob]bool{}
	for _, p := range net.Params() {
		owned[p] = true
	}
	for i, l := range net.Layers() {
		for _, p := range l.Params() {
			if owned[p] {
				counts[i] += p.Count()
			}
		}
	}
	return counts
}

// layerMACs estimates the forward multiply-adds of layer i.
func layerMACs(net *nn.Net, i int) int64 {
	lp := net.LayerParams()[i]
	l := net.Layers()[i]
	switch lp.GetType() {
	case "Convolution":
		if len(l.Params()) == 0 {
			return 0
		}
		w := l.Params()[0] // out x in/group x kernel
		var s int64
		for _, t := range net.Tops(i) {
			s += int64(t.Count()) * int64(w.CountFrom(1))
		}
		return s
	case "Deconvolution":
		if len(l.Params()) == 0 {
			return 0
		}
		w := l.Params()[0] // in x out/group x kernel
		var s int64
		for _, b := range net.Bottoms(i) {
			s += int64(b.Count()) * int64(w.CountFrom(1))
		}
		return s
	case "InnerProduct":
		if len(l.Params()) == 0 {
			return 0
		}
		return int64(net.Tops(i)[0].Count()) * int64(l.Params()[0].Count()) / int64(max(1, lp.GetInnerProductParam().GetNumOutput()))
	}
	return 0
}

func writeSummaryTSV(w io.Writer, in *inspected) error {
	bw := &errWriter{w: w}
	net := in.net
	for i, name := range net.LayerNames() {
		if !in.listed(i) {
			continue
		}
		typ := in.layerType(i)
		for j, top := range net.TopNames(i) {
			fmt.Fprintf(bw, "%s\t%s\t%s\t%s\n", name, typ, top, net.Tops(i)[j].DimsString())
		}
	}
	return bw.err
}

func writeSummaryText(w io.Writer, in *inspected) error {
	bw := &errWriter{w: w}
	net := in.net
	fmt.Fprintf(bw, "Net %q, phase %s\n\n", net.Name(), net.Phase())
	tw := tabwriter.NewWriter(bw, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "Layer (type)\tTop\tShape\tParams\tMult-adds\t\n")
	counts := layerParamCounts(net)
	var total, macs int64
	for i, name := range net.LayerNames() {
		total += int64(counts[i])
		m := layerMACs(net, i)
		macs += m
		if !in.listed(i) {
			continue
		}
		label := fmt.Sprintf("%s (%s)", name, in.layerType(i))
		if net.LayerParams()[i].GetType() != in.layerType(i) {
			label = fmt.Sprintf("%s (%s, synthetic)", name, in.layerType(i))
		}
		tops := net.TopNames(i)
		if len(tops) == 0 {
			fmt.Fprintf(tw, "%s\t\t\t%s\t%s\t\n", label, groupDigits(int64(counts[i])), groupDigits(m))
		}
		for j, top := range tops {
			p, ma := "", ""
			if j == 0 {
				p, ma = groupDigits(int64(counts[i])), groupDigits(m)
			}
			shape := net.Tops(i)[j].DimsString()
			if shape == "" {
				shape = "scalar"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t\n", label, top, shape, p, ma)
			label = ""
		}
	}
	tw.Flush()
	// Activation memory: every distinct top blob once.
	seen := map[*tensor.Blob]bool{}
	var act int64
	for i := range net.Layers() {
		for _, t := range net.Tops(i) {
			if !seen[t] {
				seen[t] = true
				act += int64(t.Count())
			}
		}
	}
	var trainable int64
	for k, p := range net.Params() {
		if net.ParamInfo()[k].LrMult != 0 {
			trainable += int64(p.Count())
		}
	}
	fmt.Fprintf(bw, "\nTotal parameters: %s (%s)\n", groupDigits(total), humanBytes(4*total))
	fmt.Fprintf(bw, "Trainable parameters: %s\n", groupDigits(trainable))
	fmt.Fprintf(bw, "Activation memory: %s values (%s; gradients take as much again)\n", groupDigits(act), humanBytes(4*act))
	fmt.Fprintf(bw, "Forward multiply-adds: %s (%.3f G)\n", groupDigits(macs), float64(macs)/1e9)
	return bw.err
}

// groupDigits formats n with thousands separators: 1,234,567.
func groupDigits(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// humanBytes formats a byte count: 1.5 MiB.
func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	v, suffix := float64(n), []string{"KiB", "MiB", "GiB", "TiB"}
	i := -1
	for v >= unit && i < len(suffix)-1 {
		v /= unit
		i++
	}
	return fmt.Sprintf("%.1f %s", v, suffix[i])
}

// errWriter remembers the first write error.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) Write(p []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	n, err := e.w.Write(p)
	if err != nil {
		e.err = err
	}
	return n, err
}
