package data

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"fmt"
	"io"
	"os"
)

// maxIDXBytes bounds the payload of an IDX file (16 GiB).
const maxIDXBytes = 1 << 34

// ReadIDX reads an IDX file of unsigned bytes (type 0x08), the format of
// MNIST and Fashion-MNIST, gzipped or not (detected from the content, not
// the name). It returns the dimensions (e.g. [60000 28 28] for images,
// [60000] for labels) and the data in row-major order.
func ReadIDX(path string) (dims []int, data []uint8, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	return ReadIDXFrom(path, f)
}

// ReadIDXFrom reads an IDX stream as ReadIDX does; name is used in errors.
func ReadIDXFrom(name string, r io.Reader) (dims []int, data []uint8, err error) {
	br := bufio.NewReader(r)
	if head, _ := br.Peek(2); len(head) == 2 && head[0] == 0x1f && head[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: gzip: %w", name, err)
		}
		defer zr.Close()
		br = bufio.NewReader(zr)
	}
	var magic [4]byte
	if _, err := io.ReadFull(br, magic[:]); err != nil {
		return nil, nil, fmt.Errorf("%s: reading the IDX header: %w", name, eofIsUnexpected(err))
	}
	if magic[0] != 0 || magic[1] != 0 {
		return nil, nil, fmt.Errorf("%s: not an IDX file (magic % x, want 00 00 <type> <ndims>)", name, magic)
	}
	if magic[2] != 0x08 {
		return nil, nil, fmt.Errorf("%s: IDX element type %#02x is not supported (only unsigned bytes, 0x08)", name, magic[2])
	}
	nd := int(magic[3])
	if nd == 0 {
		return nil, nil, fmt.Errorf("%s: IDX file with 0 dimensions", name)
	}
	hdr := make([]byte, 4*nd)
	if _, err := io.ReadFull(br, hdr); err != nil {
		return nil, nil, fmt.Errorf("%s: reading %d IDX dimensions: %w", name, nd, eofIsUnexpected(err))
	}
	dims = make([]int, nd)
	total := int64(1)
	for i := range dims {
		d := binary.BigEndian.Uint32(hdr[4*i:])
		dims[i] = int(d)
		total *= int64(d)
		if total > maxIDXBytes {
			return nil, nil, fmt.Errorf("%s: IDX dimensions %v describe more than %d bytes", name, dims[:i+1], int64(maxIDXBytes))
		}
	}
	// Read without trusting the header for the allocation: the buffer
	// grows only as far as the data really goes.
	var buf bytes.Buffer
	n, err := buf.ReadFrom(io.LimitReader(br, total+1))
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", name, err)
	}
	if n < total {
		return nil, nil, fmt.Errorf("%s: truncated: dimensions %v need %d data bytes, the file has %d", name, dims, total, n)
	}
	if n > total {
		return nil, nil, fmt.Errorf("%s: %v dimensions need %d data bytes, but the file has more (trailing data)", name, dims, total)
	}
	return dims, buf.Bytes(), nil
}

func eofIsUnexpected(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}
