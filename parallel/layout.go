package parallel

import (
	"fmt"
	"strconv"

	"github.com/sparknet/sparknet/nn"
	"github.com/sparknet/sparknet/tensor"
)

// Layout describes a model's learnable parameters as one flat vector: the
// parameter blobs of nn.Net.Params (Caffe's learnable_params_ order)
// concatenated. Broadcasts, deltas, averages and checkpoints all use it.
type Layout struct {
	names   []string
	offsets []int // len(names)+1 entries; offsets[i] is where blob i starts
}

// NewLayout returns the layout of blobs with the given names and element
// counts (parallel slices).
func NewLayout(names []string, counts []int) (Layout, error) {
	if len(names) != len(counts) {
		return Layout{}, fmt.Errorf("layout: %d names for %d counts", len(names), len(counts))
	}
	l := Layout{names: append([]string(nil), names...), offsets: make([]int, len(counts)+1)}
	for i, c := range counts {
		if c < 0 {
			return Layout{}, fmt.Errorf("layout: blob %q has negative size %d", names[i], c)
		}
		l.offsets[i+1] = l.offsets[i] + c
	}
	return l, nil
}

// LayoutOf returns the layout of a net's learnable parameters, naming each
// blob "layer/index" (or its ParamSpec name when it has one).
func LayoutOf(net *nn.Net) Layout {
	params := net.Params()
	info := net.ParamInfo()
	names := make([]string, len(params))
	counts := make([]int, len(params))
	for i, p := range params {
		counts[i] = p.Count()
		switch {
		case i < len(info) && info[i].Name != "":
			names[i] = info[i].Name
		case i < len(info):
			names[i] = info[i].Layer + "/" + strconv.Itoa(info[i].Index)
		default:
			names[i] = "param" + strconv.Itoa(i)
		}
	}
	l, _ := NewLayout(names, counts) // counts are never negative
	return l
}

// Len returns the number of elements of the flat vector.
func (l Layout) Len() int {
	if len(l.offsets) == 0 {
		return 0
	}
	return l.offsets[len(l.offsets)-1]
}

// Blobs returns the number of parameter blobs.
func (l Layout) Blobs() int { return len(l.names) }

// Name returns the name of blob i.
func (l Layout) Name(i int) string { return l.names[i] }

// Count returns the number of elements of blob i.
func (l Layout) Count(i int) int { return l.offsets[i+1] - l.offsets[i] }

// Offset returns where blob i starts in the flat vector.
func (l Layout) Offset(i int) int { return l.offsets[i] }

// Counts returns the element count of every blob.
func (l Layout) Counts() []int {
	c := make([]int, l.Blobs())
	for i := range c {
		c[i] = l.Count(i)
	}
	return c
}

// Segment returns blob i's part of the flat vector v.
func (l Layout) Segment(v []float32, i int) []float32 {
	return v[l.offsets[i]:l.offsets[i+1]:l.offsets[i+1]]
}

// SameShape reports whether two layouts have the same blob sizes (names
// are not compared).
func (l Layout) SameShape(o Layout) bool {
	if len(l.offsets) != len(o.offsets) {
		return false
	}
	for i := range l.offsets {
		if l.offsets[i] != o.offsets[i] {
			return false
		}
	}
	return true
}

// CheckCounts returns an error unless counts are the layout's blob sizes.
func (l Layout) CheckCounts(counts []int) error {
	if len(counts) != l.Blobs() {
		return fmt.Errorf("%d parameter blobs, the model has %d", len(counts), l.Blobs())
	}
	for i, c := range counts {
		if c != l.Count(i) {
			return fmt.Errorf("parameter blob %d (%s) has %d elements, the model's has %d", i, l.names[i], c, l.Count(i))
		}
	}
	return nil
}

// Gather copies the blobs' data into the flat vector dst.
func (l Layout) Gather(dst []float32, blobs []*tensor.Blob) {
	for i, b := range blobs {
		copy(l.Segment(dst, i), b.Data)
	}
}

// Scatter copies the flat vector src into the blobs' data.
func (l Layout) Scatter(src []float32, blobs []*tensor.Blob) {
	for i, b := range blobs {
		copy(b.Data, l.Segment(src, i))
	}
}

// checkBlobs returns an error unless the blobs have the layout's sizes.
func (l Layout) checkBlobs(blobs []*tensor.Blob) error {
	counts := make([]int, len(blobs))
	for i, b := range blobs {
		counts[i] = b.Count()
	}
	return l.CheckCounts(counts)
}
