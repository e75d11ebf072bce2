package report

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// checkXHTML parses page as XML (our HTML is also well-formed XML) and
// returns the element names it holds, with counts.
func checkXHTML(t *testing.T, page []byte) map[string]int {
	t.Helper()
	d := xml.NewDecoder(bytes.NewReader(page))
	d.Strict = true
	elems := map[string]int{}
	depth := 0
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("report is not well-formed: %v", err)
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			elems[tok.Name.Local]++
			depth++
		case xml.EndElement:
			depth--
		}
	}
	if depth != 0 || elems["html"] != 1 || elems["body"] != 1 {
		t.Fatalf("report structure: depth %d, elements %v", depth, elems)
	}
	return elems
}

func TestWriteHTML(t *testing.T) {
	root := t.TempDir()
	fast := synthRun{iters: 1000, display: 10, test: 100, secPerIt: 0.01, speed: 2}
	slow := synthRun{iters: 600, display: 10, test: 100, secPerIt: 0.03, speed: 0.5}
	fast.write(t, filepath.Join(root, "fast", "metrics.jsonl"))
	slow.write(t, filepath.Join(root, "slow", "metrics.jsonl"))
	if err := os.WriteFile(filepath.Join(root, "fast", "run.json"), []byte(`{"workers":4,"tau":10,"batch_size":64,"engine":"<local>&"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	a, err := LoadRun(filepath.Join(root, "fast"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := LoadRun(filepath.Join(root, "slow"))
	if err != nil {
		t.Fatal(err)
	}
	b.Name = `slow <b>"run"</b> & co`
	runs := []*Run{a, b}
	const target = 0.85
	figs, err := RunFigures(runs, target)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range figs {
		names = append(names, f.Name)
	}
	if got := strings.Join(names, " "); got != "loss accuracy accuracy_time loss_time lr" {
		t.Errorf("figures %q", got)
	}
	var buf bytes.Buffer
	err = WriteHTML(&buf, runs, HTMLOptions{TargetAccuracy: target, Figures: figs,
		Tables: []Table{{Caption: "Scaling", Header: []string{"workers", "speedup"}, Rows: [][]string{{"4", "3.1"}}}}})
	if err != nil {
		t.Fatal(err)
	}
	page := buf.Bytes()
	elems := checkXHTML(t, page)
	if elems["svg"] != len(figs) || elems["figure"] != len(figs) {
		t.Errorf("%d svg and %d figure elements, want %d", elems["svg"], elems["figure"], len(figs))
	}
	html := string(page)

	// The numbers: best and final accuracy, when the best came, time to
	// the target, total time, images/s; "not reached" for the slow run.
	sa := Summarize(a, target)
	for _, want := range []string{
		fmt.Sprintf("<td>%.2f%%</td><td>%d</td><td>%s</td><td>%.2f%%</td>", 100*sa.Best.Value, sa.Best.Iter, formatDuration(sa.Best.WallS), 100*sa.Final.Value),
		fmt.Sprintf("<td>%s</td><td>%d</td>", formatDuration(sa.TargetAt.WallS), sa.TargetAt.Iter),
		fmt.Sprintf("<td>%.0f</td>", 1000*64*4/(1000*fast.secPerIt)),
		"<td>1000</td><td>10.0 s</td>",
		"<td>not reached</td><td>not reached</td>",
		"<th>time to 85.00%</th>",
		"<td>4</td><td>3.1</td>",
	} {
		if !strings.Contains(html, want) {
			t.Errorf("report lacks %q", want)
		}
	}
	if sa.Best.Value == sa.Final.Value || !sa.Reached {
		t.Fatalf("synthetic run does not exercise best != final and a reached target: %+v", sa)
	}
	// Test results table: every test of the slow run, with its values.
	for it := 0; it <= slow.iters; it += slow.test {
		row := fmt.Sprintf("<tr><td>%d</td><td>%s</td><td>%s</td>", it, formatDuration(float64(it)*slow.secPerIt), formatValue(slow.accuracyAt(it)))
		if !strings.Contains(html, row) {
			t.Errorf("test table lacks %q", row)
		}
	}
	// Escaping: names and options show as text, never as markup.
	if strings.Contains(html, "<b>") || !strings.Contains(html, "slow &lt;b&gt;&#34;run&#34;&lt;/b&gt; &amp; co") {
		t.Error("run name not escaped")
	}
	if !strings.Contains(html, "&lt;local&gt;&amp;") {
		t.Error("option value not escaped")
	}
	// Self-contained: nothing is fetched.
	for _, ref := range []string{"src=", "href=", "@import", "url("} {
		if strings.Contains(html, ref) {
			t.Errorf("report references an external resource (%s)", ref)
		}
	}
}

func TestWriteHTMLWithoutTests(t *testing.T) {
	h, err := ParseHistory(strings.NewReader(`{"iter":0,"wall_s":0.5,"lr":0.1,"loss":2}`+"\n"), "m")
	if err != nil {
		t.Fatal(err)
	}
	r := &Run{Name: "train-only", History: h}
	figs, err := RunFigures([]*Run{r}, 0.9)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range figs {
		if strings.HasPrefix(f.Name, "accuracy") {
			t.Errorf("figure %s for a run without tests", f.Name)
		}
	}
	var buf bytes.Buffer
	if err := WriteHTML(&buf, []*Run{r}, HTMLOptions{TargetAccuracy: 0.9, Figures: figs}); err != nil {
		t.Fatal(err)
	}
	checkXHTML(t, buf.Bytes())
	if !strings.Contains(buf.String(), "<td>2</td><td>n/a</td>") {
		t.Error("final loss 2 and missing accuracy not shown")
	}
	if strings.Contains(buf.String(), "Test results") {
		t.Error("empty test results table shown")
	}
}

func TestWriteHTMLFiguresAndTablesOnly(t *testing.T) {
	g := Grid{Rows: []string{"1", "2"}, Cols: []string{"1", "10"}, Values: [][]float64{{1, 1.5}, {0.8, 2.9}}}
	heat, err := HeatMap(HeatOptions{Title: "speedup", Diverging: true, Center: 1}, g)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	err = WriteHTML(&buf, nil, HTMLOptions{
		Title:   "Scaling study",
		Figures: []NamedFigure{{Name: "speedup", Caption: "Speedup over K=1, tau=1.", Figure: heat}},
		Tables:  []Table{{Caption: "Results", Header: []string{"workers", "tau", "speedup"}, Rows: [][]string{{"2", "10", "2.9"}}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	elems := checkXHTML(t, buf.Bytes())
	html := buf.String()
	if elems["svg"] != 1 || !strings.Contains(html, "<title>Scaling study</title>") || !strings.Contains(html, "<td>2</td><td>10</td><td>2.9</td>") {
		t.Errorf("figure/table page wrong: %v", elems)
	}
	if strings.Contains(html, "Summary") {
		t.Error("summary of no runs shown")
	}
}

func TestTestTableHeader(t *testing.T) {
	h, err := ParseHistory(strings.NewReader(`{"iter":5,"wall_s":1,"test_net":0,"accuracy":0.5,"loss":1,"test_loss":1}
{"iter":5,"wall_s":1,"test_net":1,"accuracy":0.25}
{"iter":9,"wall_s":2,"test_net":0,"accuracy":0.75,"loss":0.5,"test_loss":0.5}
`), "m")
	if err != nil {
		t.Fatal(err)
	}
	tab := testTable(h)
	if got := strings.Join(tab.Header, ","); got != "iteration,wall time,accuracy,loss,test_loss,net1/accuracy" {
		t.Errorf("header %s", got)
	}
	if got := fmt.Sprint(tab.Rows); got != "[[5 1.0 s 0.5 1 1 0.25] [9 2.0 s 0.75 0.5 0.5 ]]" {
		t.Errorf("rows %s", got)
	}
}

func TestFormatDuration(t *testing.T) {
	for _, tc := range []struct {
		s    float64
		want string
	}{{0, "0.0 s"}, {65.25, "65.2 s"}, {125, "2 min 05 s"}, {3*3600 + 65, "3 h 01 min"}} {
		if got := formatDuration(tc.s); got != tc.want {
			t.Errorf("formatDuration(%g) = %q, want %q", tc.s, got, tc.want)
		}
	}
}
