package layers

import (
	"errors"

	"github.com/sparknet/sparknet/caffe/pb"
)

func init() {
	Register("HDF5Data", func(p *pb.LayerParameter, ctx *Context) (Layer, error) {
		return nil, errors.New("HDF5Data is not supported: sparknet has no HDF5 reader " +
			"(the HDF5 library is C and would need cgo, and no pure-Go reader is mature enough to trust with training data); " +
			"convert the data to LMDB (sparknet convert) and use a Data layer, or use MemoryData")
	})
}
