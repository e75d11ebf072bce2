package data

import (
	"fmt"
	"os"
)

// CIFAR binary batch layout: 32x32 RGB images stored channel-major (1024
// red, 1024 green, 1024 blue bytes), each after its label byte(s).
const (
	CIFARSide       = 32
	CIFARImageBytes = 3 * CIFARSide * CIFARSide
)

// CIFARBatch is one CIFAR binary batch file.
type CIFARBatch struct {
	// N is the number of images.
	N int
	// Labels holds the class of each image (the fine label for CIFAR-100).
	Labels []int
	// CoarseLabels holds CIFAR-100's superclass labels (nil for CIFAR-10).
	CoarseLabels []int
	// Images holds N images of CIFARImageBytes each, 3x32x32 in RGB channel
	// order, exactly as in the file (Caffe's convert_cifar_data stores them
	// unchanged, so CIFAR databases are RGB, not BGR).
	Images []byte
}

// Image returns image i.
func (b *CIFARBatch) Image(i int) []byte {
	return b.Images[i*CIFARImageBytes : (i+1)*CIFARImageBytes]
}

// ReadCIFAR10 reads a CIFAR-10 binary batch (data_batch_N.bin,
// test_batch.bin): records of one label byte (0-9) and 3072 pixel bytes.
func ReadCIFAR10(path string) (*CIFARBatch, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return ParseCIFAR(path, b, 1, 10)
}

// ReadCIFAR100 reads a CIFAR-100 binary file (train.bin, test.bin): records
// of a coarse label byte (0-19), a fine label byte (0-99) and 3072 pixels.
func ReadCIFAR100(path string) (*CIFARBatch, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return ParseCIFAR(path, b, 2, 100)
}

// ParseCIFAR decodes a CIFAR batch held in memory: labelBytes is 1
// (CIFAR-10) or 2 (CIFAR-100, coarse then fine), classes the number of
// (fine) classes. A label out of range is an error naming the record.
func ParseCIFAR(name string, b []byte, labelBytes, classes int) (*CIFARBatch, error) {
	rec := labelBytes + CIFARImageBytes
	if len(b) == 0 || len(b)%rec != 0 {
		return nil, fmt.Errorf("%s: %d bytes is not a whole number of %d-byte CIFAR records", name, len(b), rec)
	}
	n := len(b) / rec
	out := &CIFARBatch{N: n, Labels: make([]int, n), Images: make([]byte, n*CIFARImageBytes)}
	if labelBytes == 2 {
		out.CoarseLabels = make([]int, n)
	}
	for i := 0; i < n; i++ {
		r := b[i*rec : (i+1)*rec]
		fine := int(r[labelBytes-1])
		if fine >= classes {
			return nil, fmt.Errorf("%s: record %d: label %d out of range [0, %d)", name, i, fine, classes)
		}
		out.Labels[i] = fine
		if labelBytes == 2 {
			if c := int(r[0]); c >= 20 {
				return nil, fmt.Errorf("%s: record %d: coarse label %d out of range [0, 20)", name, i, c)
			}
			out.CoarseLabels[i] = int(r[0])
		}
		copy(out.Images[i*CIFARImageBytes:], r[labelBytes:])
	}
	return out, nil
}
