// Package tensor holds Blob, the N-d array of float32 values and gradients
// that flows between layers, with Caffe's shape and axis conventions.
package tensor

import (
	"fmt"
	"strconv"
	"strings"
)

// MaxAxes is the largest number of axes a Blob may have (Caffe's kMaxBlobAxes).
const MaxAxes = 32

// Blob is an N-d array in row-major order with a value buffer (Data) and a
// gradient buffer (Diff) of the same shape, as Caffe's Blob<float>.
//
// Data and Diff always have length Count(). Reshape keeps their backing
// arrays when the new count fits their capacity, so a net that reshapes to
// the same or smaller shapes does not allocate.
type Blob struct {
	shape []int
	Data  []float32
	Diff  []float32
}

// New returns a zero-filled blob of the given shape.
func New(shape ...int) *Blob {
	b := &Blob{}
	b.Reshape(shape...)
	return b
}

// Shape returns the blob's dimensions. The slice must not be modified.
func (b *Blob) Shape() []int { return b.shape }

// NumAxes reports the number of axes.
func (b *Blob) NumAxes() int { return len(b.shape) }

// Dim returns the size of the given axis; negative axes count from the end.
func (b *Blob) Dim(axis int) int { return b.shape[b.CanonicalAxis(axis)] }

// Count returns the number of elements.
func (b *Blob) Count() int { return len(b.Data) }

// CountRange returns the product of the dimensions of axes [start, end).
func (b *Blob) CountRange(start, end int) int {
	n := 1
	for i := start; i < end; i++ {
		n *= b.shape[i]
	}
	return n
}

// CountFrom returns the product of the dimensions from axis start to the end.
func (b *Blob) CountFrom(start int) int { return b.CountRange(start, len(b.shape)) }

// CanonicalAxis maps an axis index in [-NumAxes, NumAxes) to [0, NumAxes). It
// panics on an out-of-range axis; layers validate user-given axes with
// CheckAxis during setup.
func (b *Blob) CanonicalAxis(axis int) int {
	a, err := b.CheckAxis(axis)
	if err != nil {
		panic(err)
	}
	return a
}

// CheckAxis is CanonicalAxis returning an error instead of panicking.
func (b *Blob) CheckAxis(axis int) (int, error) {
	n := len(b.shape)
	if axis < -n || axis >= n {
		return 0, fmt.Errorf("axis %d out of range for %d-axis blob with shape %s", axis, n, b.ShapeString())
	}
	if axis < 0 {
		return axis + n, nil
	}
	return axis, nil
}

// Reshape sets the shape, keeping the buffers when their capacity suffices.
// Newly exposed elements are zero only when the buffers had to grow; callers
// must not rely on the contents after a reshape that changes the count.
func (b *Blob) Reshape(shape ...int) {
	if sameShape(b.shape, shape) && b.Data != nil {
		return
	}
	if len(shape) > MaxAxes {
		panic(fmt.Sprintf("tensor: %d axes exceed the maximum of %d", len(shape), MaxAxes))
	}
	count := 1
	for i, d := range shape {
		if d < 0 {
			// Formats i and d, not shape, so that shape does not escape and
			// callers' variadic arguments stay on their stacks.
			panic(fmt.Sprintf("tensor: negative dimension %d at axis %d", d, i))
		}
		count *= d
	}
	if cap(b.shape) >= len(shape) {
		b.shape = b.shape[:len(shape)]
	} else {
		b.shape = make([]int, len(shape))
	}
	copy(b.shape, shape)
	b.Data = grow(b.Data, count)
	b.Diff = grow(b.Diff, count)
}

// ReshapeLike gives b the shape of o.
func (b *Blob) ReshapeLike(o *Blob) { b.Reshape(o.shape...) }

func grow(s []float32, n int) []float32 {
	if cap(s) >= n {
		return s[:n]
	}
	return make([]float32, n)
}

func sameShape(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// ShapeEquals reports whether b has exactly the given shape.
func (b *Blob) ShapeEquals(shape ...int) bool { return sameShape(b.shape, shape) }

// SameShape reports whether a and b have the same shape.
func SameShape(a, b *Blob) bool { return sameShape(a.shape, b.shape) }

// Offset returns the linear index of the element at the given leading
// indices; missing trailing indices are zero.
func (b *Blob) Offset(indices ...int) int {
	off := 0
	for i := range b.shape {
		off *= b.shape[i]
		if i < len(indices) {
			off += indices[i]
		}
	}
	return off
}

// LegacyShape returns the dimension of axis i as Caffe's num/channels/height/
// width accessors do: axes beyond the blob's count as 1 (blobs of at most 4
// axes only).
func (b *Blob) LegacyShape(i int) int {
	if i >= len(b.shape) || i < -len(b.shape) {
		return 1
	}
	return b.Dim(i)
}

// Num, Channels, Height and Width are Caffe's 4-D accessors.
func (b *Blob) Num() int      { return b.LegacyShape(0) }
func (b *Blob) Channels() int { return b.LegacyShape(1) }
func (b *Blob) Height() int   { return b.LegacyShape(2) }
func (b *Blob) Width() int    { return b.LegacyShape(3) }

// ShapeString formats the shape as Caffe logs it: "64 20 24 24 (737280)".
func (b *Blob) ShapeString() string {
	var sb strings.Builder
	for _, d := range b.shape {
		sb.WriteString(strconv.Itoa(d))
		sb.WriteByte(' ')
	}
	sb.WriteByte('(')
	sb.WriteString(strconv.Itoa(b.Count()))
	sb.WriteByte(')')
	return sb.String()
}

// DimsString formats the shape as dimensions joined by "x": "64x20x24x24".
func (b *Blob) DimsString() string { return JoinDims(b.shape) }

// JoinDims formats dimensions joined by "x"; a scalar (no axes) is "".
func JoinDims(shape []int) string {
	var sb strings.Builder
	for i, d := range shape {
		if i > 0 {
			sb.WriteByte('x')
		}
		sb.WriteString(strconv.Itoa(d))
	}
	return sb.String()
}

// ShareData makes b use o's value buffer (as Caffe's ShareData); shapes must
// have the same count. Used by layers such as Flatten and Reshape.
func (b *Blob) ShareData(o *Blob) {
	if b.Count() != o.Count() {
		panic(fmt.Sprintf("tensor: ShareData count mismatch %d vs %d", b.Count(), o.Count()))
	}
	b.Data = o.Data
}

// ShareDiff makes b use o's gradient buffer; counts must match.
func (b *Blob) ShareDiff(o *Blob) {
	if b.Count() != o.Count() {
		panic(fmt.Sprintf("tensor: ShareDiff count mismatch %d vs %d", b.Count(), o.Count()))
	}
	b.Diff = o.Diff
}

// CopyFrom copies o's values (and gradients when diff is set) into b, which
// is reshaped to o's shape when reshape is set and must otherwise have the
// same count.
func (b *Blob) CopyFrom(o *Blob, diff, reshape bool) error {
	if b.Count() != o.Count() || !sameShape(b.shape, o.shape) {
		if !reshape {
			if b.Count() != o.Count() {
				return fmt.Errorf("tensor: cannot copy blob of shape %s into %s", o.ShapeString(), b.ShapeString())
			}
		} else {
			b.ReshapeLike(o)
		}
	}
	if diff {
		copy(b.Diff, o.Diff)
	} else {
		copy(b.Data, o.Data)
	}
	return nil
}

// Clone returns a deep copy of b.
func (b *Blob) Clone() *Blob {
	c := New(b.shape...)
	copy(c.Data, b.Data)
	copy(c.Diff, b.Diff)
	return c
}

// ZeroData sets all values to zero.
func (b *Blob) ZeroData() { clear(b.Data) }

// ZeroDiff sets all gradients to zero.
func (b *Blob) ZeroDiff() { clear(b.Diff) }
