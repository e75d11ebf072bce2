package data

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/sparknet/sparknet/caffe/pb"
)

// idxBytes builds an IDX file of unsigned bytes.
func idxBytes(dims []int, payload []byte) []byte {
	b := []byte{0, 0, 0x08, byte(len(dims))}
	for _, d := range dims {
		b = binary.BigEndian.AppendUint32(b, uint32(d))
	}
	return append(b, payload...)
}

func gz(b []byte) []byte {
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	w.Write(b)
	w.Close()
	return buf.Bytes()
}

func writeFile(t testing.TB, dir, name string, b []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestReadIDX(t *testing.T) {
	dir := t.TempDir()
	payload := make([]byte, 3*2*4)
	for i := range payload {
		payload[i] = byte(7 * i)
	}
	raw := idxBytes([]int{3, 2, 4}, payload)
	for _, name := range []string{"plain-idx3-ubyte", "zipped-idx3-ubyte.gz", "zipped-without-extension"} {
		b := raw
		if strings.HasPrefix(name, "zipped") {
			b = gz(raw)
		}
		dims, data, err := ReadIDX(writeFile(t, dir, name, b))
		if err != nil {
			t.Fatal(err)
		}
		if len(dims) != 3 || dims[0] != 3 || dims[1] != 2 || dims[2] != 4 {
			t.Errorf("%s: dims %v, want [3 2 4]", name, dims)
		}
		if !bytes.Equal(data, payload) {
			t.Errorf("%s: data differs", name)
		}
	}
	for _, c := range []struct {
		name string
		b    []byte
		want string
	}{
		{"short", idxBytes([]int{3, 2, 4}, payload[:20]), "truncated"},
		{"long", idxBytes([]int{3, 2, 4}, append(payload, 1)), "trailing"},
		{"magic", append([]byte{1, 2}, raw[2:]...), "not an IDX file"},
		{"type", append([]byte{0, 0, 0x0d}, raw[3:]...), "element type"},
		{"header", raw[:6], "IDX dimensions"},
		{"empty", nil, "header"},
		{"huge", idxBytes([]int{1 << 20, 1 << 20, 1 << 20}, nil), "more than"},
		{"badgzip", []byte{0x1f, 0x8b, 1, 2, 3}, "gzip"},
	} {
		_, _, err := ReadIDX(writeFile(t, dir, c.name, c.b))
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), c.name) {
			t.Errorf("%s: err = %v, want one naming the file and containing %q", c.name, err, c.want)
		}
	}
	if _, _, err := ReadIDX(filepath.Join(dir, "missing")); !os.IsNotExist(err) {
		t.Errorf("missing file: err = %v", err)
	}
}

// TestReadIDXFashionMNIST reads the real Fashion-MNIST files of Debian's
// dataset-fashion-mnist package.
func TestReadIDXFashionMNIST(t *testing.T) {
	images, labels := fashionMNIST(t, "t10k")
	dims, pix, err := ReadIDX(images)
	if err != nil {
		t.Fatal(err)
	}
	if len(dims) != 3 || dims[0] != 10000 || dims[1] != 28 || dims[2] != 28 || len(pix) != 10000*784 {
		t.Fatalf("images: dims %v, %d bytes", dims, len(pix))
	}
	dims, lab, err := ReadIDX(labels)
	if err != nil {
		t.Fatal(err)
	}
	if len(dims) != 1 || dims[0] != 10000 {
		t.Fatalf("labels: dims %v", dims)
	}
	var count [10]int
	for _, l := range lab {
		if l > 9 {
			t.Fatalf("label %d out of range", l)
		}
		count[l]++
	}
	for c, n := range count {
		if n != 1000 {
			t.Errorf("class %d has %d test images, want 1000", c, n)
		}
	}
}

func FuzzReadIDX(f *testing.F) {
	f.Add(idxBytes([]int{2, 3}, []byte{1, 2, 3, 4, 5, 6}))
	f.Add(gz(idxBytes([]int{1, 2, 2}, []byte{1, 2, 3, 4})))
	f.Add([]byte{0, 0, 8, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		dims, data, err := ReadIDXFrom("fuzz", bytes.NewReader(b))
		if err != nil {
			return
		}
		n := 1
		for _, d := range dims {
			n *= d
		}
		if n != len(data) {
			t.Fatalf("dims %v but %d bytes", dims, len(data))
		}
	})
}

func cifarRecord(labels []byte, fill byte) []byte {
	r := append([]byte(nil), labels...)
	for i := 0; i < CIFARImageBytes; i++ {
		r = append(r, fill+byte(i/1024))
	}
	return r
}

func TestCIFAR(t *testing.T) {
	dir := t.TempDir()
	b10 := append(cifarRecord([]byte{3}, 10), cifarRecord([]byte{9}, 20)...)
	c10, err := ReadCIFAR10(writeFile(t, dir, "data_batch_1.bin", b10))
	if err != nil {
		t.Fatal(err)
	}
	if c10.N != 2 || c10.Labels[0] != 3 || c10.Labels[1] != 9 || c10.CoarseLabels != nil {
		t.Errorf("CIFAR-10: %d images, labels %v", c10.N, c10.Labels)
	}
	if img := c10.Image(1); img[0] != 20 || img[1024] != 21 || img[3071] != 22 {
		t.Errorf("CIFAR-10 image 1 planes: %d %d %d", img[0], img[1024], img[3071])
	}
	c100, err := ReadCIFAR100(writeFile(t, dir, "train.bin", cifarRecord([]byte{19, 99}, 0)))
	if err != nil {
		t.Fatal(err)
	}
	if c100.Labels[0] != 99 || c100.CoarseLabels[0] != 19 {
		t.Errorf("CIFAR-100 labels %v coarse %v", c100.Labels, c100.CoarseLabels)
	}
	for _, c := range []struct {
		name string
		b    []byte
		read func(string) (*CIFARBatch, error)
		want string
	}{
		{"label10.bin", append(cifarRecord([]byte{1}, 0), cifarRecord([]byte{10}, 0)...), ReadCIFAR10, "record 1: label 10 out of range"},
		{"label100.bin", cifarRecord([]byte{0, 100}, 0), ReadCIFAR100, "record 0: label 100 out of range"},
		{"coarse.bin", cifarRecord([]byte{20, 1}, 0), ReadCIFAR100, "coarse label 20"},
		{"short.bin", cifarRecord([]byte{1}, 0)[:3000], ReadCIFAR10, "whole number"},
	} {
		_, err := c.read(writeFile(t, dir, c.name, c.b))
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), c.name) {
			t.Errorf("%s: err = %v, want %q naming the file", c.name, err, c.want)
		}
	}
}

// TestDatumWire checks our encoding against the protobuf library's for
// Datums set up as Caffe's converters set them, and decoding of what the
// library writes.
func TestDatumWire(t *testing.T) {
	i32 := func(v int32) *int32 { return &v }
	bl := func(v bool) *bool { return &v }
	cases := []struct {
		name string
		d    Datum
		p    *pb.Datum
	}{
		{"mnist", Datum{Channels: 1, Height: 2, Width: 2, Data: []byte{0, 1, 254, 255}, Label: 7},
			&pb.Datum{Channels: i32(1), Height: i32(2), Width: i32(2), Data: []byte{0, 1, 254, 255}, Label: i32(7)}},
		{"label0", Datum{Channels: 3, Height: 1, Width: 1, Data: []byte{1, 2, 3}},
			&pb.Datum{Channels: i32(3), Height: i32(1), Width: i32(1), Data: []byte{1, 2, 3}, Label: i32(0)}},
		{"imageset-raw", Datum{Channels: 1, Height: 1, Width: 2, Data: []byte{9, 8}, Label: 1, EncodedSet: true},
			&pb.Datum{Channels: i32(1), Height: i32(1), Width: i32(2), Data: []byte{9, 8}, Label: i32(1), Encoded: bl(false)}},
		{"encoded", Datum{Data: []byte("\x89PNG..."), Label: 4, Encoded: true},
			&pb.Datum{Data: []byte("\x89PNG..."), Label: i32(4), Encoded: bl(true)}},
		{"float", Datum{Channels: 2, Height: 1, Width: 1, FloatData: []float32{1.5, -float32(math.Pi)}, Label: -3},
			&pb.Datum{Channels: i32(2), Height: i32(1), Width: i32(1), FloatData: []float32{1.5, -float32(math.Pi)}, Label: i32(-3)}},
	}
	for _, c := range cases {
		want, err := proto.MarshalOptions{Deterministic: true}.Marshal(c.p)
		if err != nil {
			t.Fatal(err)
		}
		got := c.d.AppendMarshal(nil)
		if !bytes.Equal(got, want) {
			t.Errorf("%s: AppendMarshal = % x, protobuf gives % x", c.name, got, want)
		}
		var d Datum
		if err := d.Unmarshal(want); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if !proto.Equal(d.ToProto(), c.p) {
			t.Errorf("%s: Unmarshal gives %v, want %v", c.name, d.ToProto(), c.p)
		}
		if back := DatumFromProto(c.p).AppendMarshal(nil); !bytes.Equal(back, want) {
			t.Errorf("%s: DatumFromProto round trip differs", c.name)
		}
	}
	// Packed float_data (not what Caffe writes, but valid protobuf).
	packed := []byte{0x32, 8}
	packed = binary.LittleEndian.AppendUint32(packed, math.Float32bits(2))
	packed = binary.LittleEndian.AppendUint32(packed, math.Float32bits(-1))
	var d Datum
	if err := d.Unmarshal(packed); err != nil || len(d.FloatData) != 2 || d.FloatData[0] != 2 || d.FloatData[1] != -1 {
		t.Errorf("packed float_data: %v %v", d.FloatData, err)
	}
	for _, bad := range [][]byte{{0x22, 10, 1}, {0x08}, {0x35, 1, 2}, {0xff}} {
		if err := d.Unmarshal(bad); err == nil {
			t.Errorf("Unmarshal(% x) accepted malformed input", bad)
		}
	}
}
