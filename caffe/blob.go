package caffe

import (
	"fmt"
	"math"

	"github.com/sparknet/sparknet/caffe/pb"
	"github.com/sparknet/sparknet/tensor"
)

// maxBlobCount is the most elements a blob may have: Caffe counts them in an
// int (CHECK_LE(count, INT_MAX) in Blob::Reshape).
const maxBlobCount = math.MaxInt32

// hasLegacyShape reports whether bp uses the deprecated 4-D num/channels/
// height/width fields, which take precedence over shape (as in Caffe's
// Blob::FromProto).
func hasLegacyShape(bp *pb.BlobProto) bool {
	return bp.Num != nil || bp.Channels != nil || bp.Height != nil || bp.Width != nil
}

// BlobShape returns the shape a BlobProto describes: its legacy 4-D
// num x channels x height x width when any of those fields is set (as Caffe
// reads it), else its shape field. It rejects negative dimensions, more than
// tensor.MaxAxes axes and element counts above 2^31-1.
func BlobShape(bp *pb.BlobProto) ([]int, error) {
	if hasLegacyShape(bp) {
		shape := []int{int(bp.GetNum()), int(bp.GetChannels()), int(bp.GetHeight()), int(bp.GetWidth())}
		if _, err := checkShape(shape); err != nil {
			return nil, err
		}
		return shape, nil
	}
	dims := bp.GetShape().GetDim()
	if len(dims) > tensor.MaxAxes {
		return nil, fmt.Errorf("blob has %d axes; at most %d are supported", len(dims), tensor.MaxAxes)
	}
	shape := make([]int, len(dims))
	for i, d := range dims {
		if d < 0 || d > maxBlobCount {
			return nil, fmt.Errorf("blob dimension %d at axis %d is out of range", d, i)
		}
		shape[i] = int(d)
	}
	if _, err := checkShape(shape); err != nil {
		return nil, err
	}
	return shape, nil
}

// checkShape validates dimensions and returns the element count.
func checkShape(shape []int) (int, error) {
	count := 1
	for i, d := range shape {
		if d < 0 {
			return 0, fmt.Errorf("blob dimension %d at axis %d is negative", d, i)
		}
		if d != 0 && count > maxBlobCount/d {
			return 0, fmt.Errorf("blob shape %s has more than %d elements", tensor.JoinDims(shape), maxBlobCount)
		}
		count *= d
	}
	return count, nil
}

// ValidateBlobProto checks that bp's shape is valid and that each of its
// value arrays (data, diff, double_data, double_diff) is empty or holds
// exactly one value per element.
func ValidateBlobProto(bp *pb.BlobProto) error {
	shape, err := BlobShape(bp)
	if err != nil {
		return err
	}
	count, _ := checkShape(shape)
	for _, f := range []struct {
		name string
		n    int
	}{{"data", len(bp.Data)}, {"diff", len(bp.Diff)}, {"double_data", len(bp.DoubleData)}, {"double_diff", len(bp.DoubleDiff)}} {
		if f.n != 0 && f.n != count {
			return fmt.Errorf("blob of shape %s needs %d values but its %s has %d", shapeString(shape), count, f.name, f.n)
		}
	}
	return nil
}

func shapeString(shape []int) string {
	if len(shape) == 0 {
		return "() (scalar)"
	}
	return tensor.JoinDims(shape)
}

// ShapeMatches reports whether a blob of the given shape accepts bp's values
// without reshaping, as Caffe's Blob::ShapeEquals: legacy 4-D protos match
// any blob of at most 4 axes whose shape, padded with leading 1s, equals
// num x channels x height x width (so 1x1x500x800 matches 500x800); other
// protos must have exactly the same shape.
func ShapeMatches(shape []int, bp *pb.BlobProto) bool {
	if hasLegacyShape(bp) {
		if len(shape) > 4 {
			return false
		}
		legacy := [4]int64{int64(bp.GetNum()), int64(bp.GetChannels()), int64(bp.GetHeight()), int64(bp.GetWidth())}
		for i := range 4 {
			d := 1
			if j := len(shape) - 4 + i; j >= 0 {
				d = shape[j]
			}
			if int64(d) != legacy[i] {
				return false
			}
		}
		return true
	}
	dims := bp.GetShape().GetDim()
	if len(dims) != len(shape) {
		return false
	}
	for i, d := range dims {
		if d != int64(shape[i]) {
			return false
		}
	}
	return true
}

// BlobFromProto copies bp's values into dst, as Caffe's Blob::FromProto:
// with reshape, dst takes bp's shape; without, bp's shape must match dst's
// (see ShapeMatches). Values come from double_data when present, else data;
// the gradient from double_diff or diff when present (dst.Diff is left
// untouched otherwise). A shape mismatch or a value count that differs from
// the element count is an error, and dst is then unchanged.
func BlobFromProto(dst *tensor.Blob, bp *pb.BlobProto, reshape bool) error {
	if err := ValidateBlobProto(bp); err != nil {
		return err
	}
	shape, _ := BlobShape(bp)
	count, _ := checkShape(shape)
	if reshape {
		if len(bp.Data) == 0 && len(bp.DoubleData) == 0 && count != 0 {
			return fmt.Errorf("blob of shape %s has no values", shapeString(shape))
		}
		dst.Reshape(shape...)
	} else if !ShapeMatches(dst.Shape(), bp) {
		return fmt.Errorf("shape mismatch: source blob is %s, target blob is %s",
			shapeString(shape), shapeString(dst.Shape()))
	} else if len(bp.Data) == 0 && len(bp.DoubleData) == 0 && count != 0 {
		return fmt.Errorf("blob of shape %s has no values", shapeString(shape))
	}
	if len(bp.DoubleData) > 0 {
		for i, v := range bp.DoubleData {
			dst.Data[i] = float32(v)
		}
	} else {
		copy(dst.Data, bp.Data)
	}
	if len(bp.DoubleDiff) > 0 {
		for i, v := range bp.DoubleDiff {
			dst.Diff[i] = float32(v)
		}
	} else if len(bp.Diff) > 0 {
		copy(dst.Diff, bp.Diff)
	}
	return nil
}

// BlobToProto returns b as a BlobProto with a shape and float data (and its
// gradient when withDiff), as Caffe's Blob::ToProto writes it. The values
// are copied.
func BlobToProto(b *tensor.Blob, withDiff bool) *pb.BlobProto {
	shape := b.Shape()
	dims := make([]int64, len(shape))
	for i, d := range shape {
		dims[i] = int64(d)
	}
	bp := &pb.BlobProto{
		Shape: &pb.BlobShape{Dim: dims},
		Data:  append([]float32(nil), b.Data...),
	}
	if withDiff {
		bp.Diff = append([]float32(nil), b.Diff...)
	}
	return bp
}
