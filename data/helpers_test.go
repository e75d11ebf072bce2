package data

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// required reports whether missing external test inputs (Debian's
// dataset-fashion-mnist) must fail the tests instead of skipping them.
func required() bool {
	for _, v := range []string{os.Getenv("SPARKNET_REQUIRE_TOOLS"), os.Getenv("CI")} {
		if v != "" && v != "0" && v != "false" {
			return true
		}
	}
	return false
}

const fashionDir = "/usr/share/datasets/fashion-mnist"

// fashionMNIST returns the paths of a Fashion-MNIST set ("train" or
// "t10k") installed by Debian's dataset-fashion-mnist package.
func fashionMNIST(t testing.TB, set string) (images, labels string) {
	t.Helper()
	images = filepath.Join(fashionDir, set+"-images-idx3-ubyte.gz")
	labels = filepath.Join(fashionDir, set+"-labels-idx1-ubyte.gz")
	if _, err := os.Stat(images); err != nil {
		msg := fmt.Sprintf("%s not found: apt-get install dataset-fashion-mnist", images)
		if required() {
			t.Fatal(msg + " (required because CI or SPARKNET_REQUIRE_TOOLS is set)")
		}
		t.Skip(msg)
	}
	return images, labels
}

// datumDB writes n raw Datums of shape c x h x w to a new database: the
// pixel values of record i are (i*31 + j) % 251, its label i % 10.
func datumDB(t testing.TB, b Backend, n, c, h, w int) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "db")
	wr, err := CreateDB(b, path)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < n; i++ {
		d := Datum{Channels: c, Height: h, Width: w, Data: make([]byte, c*h*w), Label: int32(i % 10)}
		for j := range d.Data {
			d.Data[j] = byte((i*31 + j) % 251)
		}
		if err := wr.Put(fmt.Appendf(nil, "%08d", i), d.AppendMarshal(nil)); err != nil {
			t.Fatal(err)
		}
	}
	if err := wr.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// pixel is the value datumDB stores at element j of record i.
func pixel(i, j int) float32 { return float32((i*31 + j) % 251) }
