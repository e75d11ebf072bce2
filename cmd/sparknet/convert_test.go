package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/binary"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sparknet/sparknet/caffe"
	"github.com/sparknet/sparknet/data"
	"github.com/sparknet/sparknet/data/lmdb"
)

// runCmd runs "sparknet ARGS..." in-process and returns its exit code and
// what the converters printed.
func runConvertCmd(t *testing.T, args ...string) (int, string) {
	t.Helper()
	var buf bytes.Buffer
	old := convertStderr
	convertStderr = &buf
	defer func() { convertStderr = old }()
	for _, c := range commands {
		c.Flags = nil // fresh flag sets, as in a new process
	}
	code := run(args)
	return code, buf.String()
}

func idxFile(t *testing.T, path string, dims []int, payload []byte) {
	t.Helper()
	b := []byte{0, 0, 0x08, byte(len(dims))}
	for _, d := range dims {
		b = binary.BigEndian.AppendUint32(b, uint32(d))
	}
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(append(b, payload...))
	zw.Close()
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestConvertMNIST converts a small IDX pair and checks every record
// against the bytes Caffe's convert_mnist_data writes: key %08d, value
// = Datum{channels: 1, height: 3, width: 2, data, label} serialized.
func TestConvertMNIST(t *testing.T) {
	dir := t.TempDir()
	pix := make([]byte, 4*6)
	for i := range pix {
		pix[i] = byte(i * 9)
	}
	idxFile(t, filepath.Join(dir, "img.gz"), []int{4, 3, 2}, pix)
	idxFile(t, filepath.Join(dir, "lab.gz"), []int{4}, []byte{3, 1, 4, 1})
	for _, backend := range []string{"lmdb", "leveldb"} {
		out := filepath.Join(dir, "out_"+backend)
		code, msg := runConvertCmd(t, "convert", "mnist", filepath.Join(dir, "img.gz"), filepath.Join(dir, "lab.gz"), out, "-backend", backend)
		if code != 0 {
			t.Fatalf("%s: exit %d: %s", backend, code, msg)
		}
		b, _ := data.ParseBackend(backend)
		db, err := data.OpenDB(b, out)
		if err != nil {
			t.Fatal(err)
		}
		r := db.NewReader()
		for i := 0; i < 4; i++ {
			k, v, err := r.Get(i)
			if err != nil {
				t.Fatal(err)
			}
			// Caffe's bytes, spelled out: fields 1-3 varints, 4 bytes, 5 varint.
			want := append([]byte{0x08, 1, 0x10, 3, 0x18, 2, 0x22, 6}, pix[i*6:(i+1)*6]...)
			want = append(want, 0x28, []byte{3, 1, 4, 1}[i])
			if string(k) != fmt.Sprintf("%08d", i) || !bytes.Equal(v, want) {
				t.Errorf("%s record %d: %q = % x, want %08d = % x", backend, i, k, v, i, want)
			}
		}
		r.Close()
		db.Close()
		// An existing output is never overwritten.
		if code, _ := runConvertCmd(t, "convert", "mnist", filepath.Join(dir, "img.gz"), filepath.Join(dir, "lab.gz"), out, "-backend", backend); code == 0 {
			t.Errorf("%s: converting onto an existing database succeeded", backend)
		}
	}
	idxFile(t, filepath.Join(dir, "lab3.gz"), []int{3}, []byte{1, 2, 3})
	if code, _ := runConvertCmd(t, "convert", "mnist", filepath.Join(dir, "img.gz"), filepath.Join(dir, "lab3.gz"), filepath.Join(dir, "x")); code != 1 {
		t.Errorf("4 images with 3 labels: exit %d, want 1", code)
	}
	for _, args := range [][]string{{"convert"}, {"convert", "nosuch"}, {"convert", "mnist", "a"}, {"convert", "mnist", "a", "b", "c", "-nosuchflag"}} {
		if code, _ := runConvertCmd(t, args...); code == 0 {
			t.Errorf("%q: exit 0, want a usage error", args)
		}
	}
}

// TestConvertFashionMNISTReadByLiblmdb converts the real Fashion-MNIST test
// set and has liblmdb's mdb_stat count it.
func TestConvertFashionMNISTReadByLiblmdb(t *testing.T) {
	images := "/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz"
	labels := "/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz"
	stat, err := exec.LookPath("mdb_stat")
	_, ferr := os.Stat(images)
	if err != nil || ferr != nil {
		msg := "needs mdb_stat (apt-get install lmdb-utils) and dataset-fashion-mnist"
		if os.Getenv("CI") != "" || os.Getenv("SPARKNET_REQUIRE_TOOLS") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	out := filepath.Join(t.TempDir(), "fmnist_test_lmdb")
	if code, msg := runConvertCmd(t, "convert", "mnist", images, labels, out); code != 0 {
		t.Fatalf("exit %d: %s", code, msg)
	}
	o, err := exec.Command(stat, out).CombinedOutput()
	if err != nil {
		t.Fatalf("mdb_stat: %v\n%s", err, o)
	}
	if !strings.Contains(string(o), "Entries: 10000") {
		t.Errorf("mdb_stat does not count 10000 entries:\n%s", o)
	}
	db, err := lmdb.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var d data.Datum
	if err := d.Unmarshal(db.Value(9999)); err != nil || d.Channels != 1 || d.Height != 28 || d.Width != 28 || len(d.Data) != 784 {
		t.Errorf("last record: %+v %v", d, err)
	}
}

func TestConvertCIFAR10AndComputeMean(t *testing.T) {
	dir := t.TempDir()
	rec := func(label byte, v byte) []byte {
		return append([]byte{label}, bytes.Repeat([]byte{v}, data.CIFARImageBytes)...)
	}
	for i := 1; i <= 5; i++ {
		os.WriteFile(filepath.Join(dir, fmt.Sprintf("data_batch_%d.bin", i)), append(rec(byte(i), byte(10*i)), rec(0, 0)...), 0o644)
	}
	os.WriteFile(filepath.Join(dir, "test_batch.bin"), rec(7, 200), 0o644)
	out := filepath.Join(dir, "out")
	if code, msg := runConvertCmd(t, "convert", "cifar10", dir, out); code != 0 {
		t.Fatalf("exit %d: %s", code, msg)
	}
	train, err := lmdb.Open(filepath.Join(out, "cifar10_train_lmdb"))
	if err != nil {
		t.Fatal(err)
	}
	defer train.Close()
	if train.Len() != 10 || string(train.Key(9)) != "00009" {
		t.Fatalf("train: %d records, last key %q", train.Len(), train.Key(train.Len()-1))
	}
	var d data.Datum
	d.Unmarshal(train.Value(2))
	if d.Label != 2 || d.Channels != 3 || d.Height != 32 || d.Data[0] != 20 {
		t.Errorf("record 2: label %d, %dx%dx%d, first pixel %d", d.Label, d.Channels, d.Height, d.Width, d.Data[0])
	}
	// compute-mean: flags after the arguments work too.
	mean := filepath.Join(dir, "mean.binaryproto")
	if code, msg := runConvertCmd(t, "compute-mean", filepath.Join(out, "cifar10_train_lmdb"), mean, "-backend", "lmdb"); code != 0 {
		t.Fatalf("compute-mean: exit %d: %s", code, msg)
	}
	bp, err := caffe.LoadBlobProto(mean)
	if err != nil {
		t.Fatal(err)
	}
	shape, _ := caffe.BlobShape(bp)
	if fmt.Sprint(shape) != "[1 3 32 32]" || bp.Data[0] != 15 {
		t.Errorf("mean: shape %v, first value %v, want [1 3 32 32] and (10+20+30+40+50)/10 = 15", shape, bp.Data[0])
	}
}

func TestConvertImageset(t *testing.T) {
	dir := t.TempDir()
	var list strings.Builder
	for i := 0; i < 3; i++ {
		m := image.NewNRGBA(image.Rect(0, 0, 4, 2))
		for p := 0; p < 8; p++ {
			m.Set(p%4, p/4, color.NRGBA{uint8(10 * i), 100, 200, 255})
		}
		var buf bytes.Buffer
		png.Encode(&buf, m)
		os.WriteFile(filepath.Join(dir, fmt.Sprintf("im%d.png", i)), buf.Bytes(), 0o644)
		fmt.Fprintf(&list, "im%d.png %d\n", i, i+5)
	}
	list.WriteString("missing.png 9\n")
	os.WriteFile(filepath.Join(dir, "list.txt"), []byte(list.String()), 0o644)
	raw := filepath.Join(dir, "raw_lmdb")
	code, msg := runConvertCmd(t, "convert", "imageset", dir+"/", filepath.Join(dir, "list.txt"), raw, "-resize_height", "4", "-resize_width", "8")
	if code != 0 || !strings.Contains(msg, "missing.png") || !strings.Contains(msg, "skipped 1") {
		t.Fatalf("exit %d: %s", code, msg)
	}
	db, err := lmdb.Open(raw)
	if err != nil {
		t.Fatal(err)
	}
	var d data.Datum
	d.Unmarshal(db.Value(1))
	if string(db.Key(1)) != "00000001_im1.png" || d.Channels != 3 || d.Height != 4 || d.Width != 8 || d.Label != 6 || !d.EncodedSet || d.Encoded {
		t.Errorf("raw record 1: key %q, %dx%dx%d label %d encoded %v/%v", db.Key(1), d.Channels, d.Height, d.Width, d.Label, d.Encoded, d.EncodedSet)
	}
	// BGR planes: blue 200, green 100, red 10.
	if d.Data[0] != 200 || d.Data[32] != 100 || d.Data[64] != 10 {
		t.Errorf("raw record 1 planes start %d %d %d, want 200 100 10", d.Data[0], d.Data[32], d.Data[64])
	}
	db.Close()
	enc := filepath.Join(dir, "enc_lmdb")
	if code, msg := runConvertCmd(t, "convert", "imageset", "-encoded", dir+"/", filepath.Join(dir, "list.txt"), enc); code != 0 {
		t.Fatalf("encoded: exit %d: %s", code, msg)
	}
	// Encoded records hold the PNG files themselves and decode through
	// the Data layer's source.
	src, err := data.OpenDatumSource(data.LMDB, enc, data.Native)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	file, _ := os.ReadFile(filepath.Join(dir, "im2.png"))
	ldb, _ := lmdb.Open(enc)
	defer ldb.Close()
	d.Unmarshal(ldb.Value(2))
	if !d.Encoded || !bytes.Equal(d.Data, file) {
		t.Errorf("encoded record 2 does not hold im2.png")
	}
	mean, err := data.ComputeMean(context.Background(), src)
	if err != nil {
		t.Fatal(err)
	}
	if mean.GetChannels() != 3 || mean.GetHeight() != 2 || mean.Data[8] != 100 || mean.Data[16] != 10 {
		t.Errorf("mean of the encoded set: %dx%dx%d, planes %v %v", mean.GetChannels(), mean.GetHeight(), mean.GetWidth(), mean.Data[8], mean.Data[16])
	}
}
