package report

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"math"
	"sort"
	"strings"
)

// Table is a table of preformatted cells for an HTML report, e.g. the
// scaling study's results.
type Table struct {
	// Caption is shown above the table.
	Caption string
	// Header names the columns.
	Header []string
	// Rows are the cells, one slice per row.
	Rows [][]string
}

// HTMLOptions configure WriteHTML.
type HTMLOptions struct {
	// Title heads the page; "" gives "sparknet report: " and the run names.
	Title string
	// TargetAccuracy > 0 adds the time and iteration at which each run first
	// reached that test accuracy.
	TargetAccuracy float64
	// Figures are embedded (as inline SVG) in order, with their captions.
	Figures []NamedFigure
	// Tables are shown after the figures.
	Tables []Table
}

// WriteHTML writes a self-contained HTML report (one file: the figures are
// inline SVG, the style is inline, nothing is fetched) of runs: a summary
// of each run (best and final test accuracy, when the best was reached,
// time to the target accuracy, total time, throughput), opt's figures and
// tables, each run's options and files, and each run's test results. All
// text is escaped; the page is also well-formed XML.
func WriteHTML(w io.Writer, runs []*Run, opt HTMLOptions) error {
	page := htmlPage{Title: opt.Title, Target: opt.TargetAccuracy, Tables: opt.Tables}
	if page.Title == "" {
		names := make([]string, len(runs))
		for i, r := range runs {
			names[i] = r.Name
		}
		page.Title = "sparknet report: " + strings.Join(names, ", ")
	}
	for _, f := range opt.Figures {
		svg, err := inlineSVG(f.Figure)
		if err != nil {
			return fmt.Errorf("figure %s: %w", f.Name, err)
		}
		page.Figures = append(page.Figures, htmlFigure{Name: f.Name, Caption: f.Caption, SVG: svg})
	}
	for _, r := range runs {
		page.Summaries = append(page.Summaries, Summarize(r, opt.TargetAccuracy))
		page.Runs = append(page.Runs, runSection(r))
	}
	var buf bytes.Buffer
	if err := htmlTmpl.Execute(&buf, page); err != nil {
		return err
	}
	_, err := w.Write(buf.Bytes())
	return err
}

type htmlPage struct {
	Title     string
	Target    float64
	Summaries []Summary
	Figures   []htmlFigure
	Tables    []Table
	Runs      []htmlRun
}

type htmlFigure struct {
	Name, Caption string
	SVG           template.HTML
}

type htmlRun struct {
	Name      string
	Metrics   string
	Truncated bool
	Solver    string
	Snapshots []Snapshot
	Options   [][2]string
	Tests     Table
}

// inlineSVG renders f as SVG without the XML prolog, for embedding.
func inlineSVG(f *Figure) (template.HTML, error) {
	var buf bytes.Buffer
	if err := f.Encode(&buf, "svg"); err != nil {
		return "", err
	}
	s := buf.String()
	i := strings.Index(s, "<svg")
	if i < 0 {
		return "", fmt.Errorf("report: SVG output has no <svg> element")
	}
	// The SVG comes from our own drawing: gonum escapes every text it
	// writes, so it is safe to embed as is.
	return template.HTML(s[i:]), nil
}

func runSection(r *Run) htmlRun {
	hr := htmlRun{
		Name:      r.Name,
		Metrics:   r.MetricsPath,
		Truncated: r.History.Truncated,
		Solver:    r.Solver,
		Snapshots: r.Snapshots,
		Tests:     testTable(r.History),
	}
	keys := make([]string, 0, len(r.Options))
	for k := range r.Options {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		hr.Options = append(hr.Options, [2]string{k, optionText(r.Options[k])})
	}
	return hr
}

// optionText prints a run.json value: strings as they are, the rest as
// compact JSON.
func optionText(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// testTable lays out a history's test results: one row per tested
// iteration, one column per (net, output).
func testTable(h *History) Table {
	if len(h.Tests) == 0 {
		return Table{}
	}
	t := Table{Header: []string{"iteration", "wall time"}}
	type row struct {
		wall float64
		vals []string
	}
	rows := map[int]*row{}
	var iters []int
	for c, s := range h.Tests {
		name := s.Output
		if s.Net != 0 {
			name = fmt.Sprintf("net%d/%s", s.Net, s.Output)
		}
		t.Header = append(t.Header, name)
		for _, p := range s.Points {
			r := rows[p.Iter]
			if r == nil {
				r = &row{wall: p.WallS, vals: make([]string, len(h.Tests))}
				rows[p.Iter] = r
				iters = append(iters, p.Iter)
			}
			r.vals[c] = formatValue(p.Value)
		}
	}
	sort.Ints(iters)
	for _, it := range iters {
		r := rows[it]
		t.Rows = append(t.Rows, append([]string{fmt.Sprint(it), formatDuration(r.wall)}, r.vals...))
	}
	return t
}

// formatValue prints a metric value with 4 significant digits.
func formatValue(v float64) string {
	if math.IsNaN(v) {
		return "n/a"
	}
	return fmt.Sprintf("%.4g", v)
}

// formatDuration prints seconds as "12.3 s", "4 min 05 s" or "2 h 03 min".
func formatDuration(s float64) string {
	switch {
	case math.IsNaN(s) || s < 0:
		return "n/a"
	case s < 120:
		return fmt.Sprintf("%.1f s", s)
	case s < 3*3600:
		m := math.Floor(s / 60)
		return fmt.Sprintf("%.0f min %02.0f s", m, math.Floor(s-60*m))
	default:
		h := math.Floor(s / 3600)
		return fmt.Sprintf("%.0f h %02.0f min", h, math.Floor((s-3600*h)/60))
	}
}

var htmlTmpl = template.Must(template.New("report").Funcs(template.FuncMap{
	"dur":  formatDuration,
	"val":  formatValue,
	"pct":  func(v float64) string { return fmt.Sprintf("%.2f%%", 100*v) },
	"rate": func(v float64) string { return fmt.Sprintf("%.0f", v) },
}).Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8"/>
<meta name="viewport" content="width=device-width, initial-scale=1"/>
<title>{{.Title}}</title>
<style>
body { font-family: 'Liberation Sans', Arial, Helvetica, sans-serif; margin: 2em auto; max-width: 1200px; padding: 0 1em; color: #222; }
h1 { font-size: 1.5em; } h2 { font-size: 1.25em; margin-top: 2em; border-bottom: 1px solid #ddd; } h3 { font-size: 1.05em; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: right; }
th { background: #f3f3f3; } td.l, th.l { text-align: left; }
figure { margin: 1em 0 2em; } figure svg { max-width: 100%; height: auto; }
figcaption { color: #555; font-size: 0.9em; }
.warn { color: #a40; }
</style>
</head>
<body>
<h1>{{.Title}}</h1>
{{- if .Summaries}}
<h2 id="summary">Summary</h2>
<table class="summary">
<tr><th class="l">run</th><th>iterations</th><th>total time</th><th>final train loss</th><th>best test accuracy</th><th>best at iteration</th><th>best at time</th><th>final test accuracy</th>{{if gt .Target 0.0}}<th>time to {{pct .Target}}</th><th>iteration at {{pct .Target}}</th>{{end}}<th>images/s</th></tr>
{{- range .Summaries}}
<tr><td class="l">{{.Name}}</td><td>{{.Iterations}}</td><td>{{dur .TotalS}}</td><td>{{val .FinalLoss}}</td>
{{- if .AccuracyOutput}}<td>{{pct .Best.Value}}</td><td>{{.Best.Iter}}</td><td>{{dur .Best.WallS}}</td><td>{{pct .Final.Value}}</td>
{{- else}}<td>n/a</td><td>n/a</td><td>n/a</td><td>n/a</td>{{end}}
{{- if gt .Target 0.0}}{{if .Reached}}<td>{{dur .TargetAt.WallS}}</td><td>{{.TargetAt.Iter}}</td>{{else}}<td>not reached</td><td>not reached</td>{{end}}{{end}}
<td>{{if gt .ImagesPerS 0.0}}{{rate .ImagesPerS}}{{else}}n/a{{end}}</td></tr>
{{- end}}
</table>
{{- range .Summaries}}{{if .AccuracyOutput}}{{if ne .AccuracyOutput "accuracy"}}
<p>{{.Name}}: accuracy is test output "{{.AccuracyOutput}}".</p>{{end}}{{end}}{{end}}
{{- end}}
{{- if .Figures}}
<h2 id="figures">Figures</h2>
{{- range .Figures}}
<figure id="fig-{{.Name}}">
{{.SVG}}
<figcaption>{{.Caption}}</figcaption>
</figure>
{{- end}}
{{- end}}
{{- range .Tables}}
<h2>{{.Caption}}</h2>
<table>
<tr>{{range .Header}}<th>{{.}}</th>{{end}}</tr>
{{- range .Rows}}
<tr>{{range .}}<td>{{.}}</td>{{end}}</tr>
{{- end}}
</table>
{{- end}}
{{- range .Runs}}
<h2>Run {{.Name}}</h2>
<table>
<tr><th class="l">metrics log</th><td class="l">{{.Metrics}}{{if .Truncated}} <span class="warn">(last line cut short; left out)</span>{{end}}</td></tr>
{{- if .Solver}}
<tr><th class="l">solver</th><td class="l">{{.Solver}}</td></tr>
{{- end}}
{{- range .Snapshots}}
<tr><th class="l">snapshot, iteration {{.Iter}}</th><td class="l">{{.Path}}{{if .State}} + {{.State}}{{end}}</td></tr>
{{- end}}
{{- range .Options}}
<tr><th class="l">{{index . 0}}</th><td class="l">{{index . 1}}</td></tr>
{{- end}}
</table>
{{- if .Tests.Rows}}
<h3>Test results</h3>
<table>
<tr>{{range .Tests.Header}}<th>{{.}}</th>{{end}}</tr>
{{- range .Tests.Rows}}
<tr>{{range .}}<td>{{.}}</td>{{end}}</tr>
{{- end}}
</table>
{{- end}}
{{- end}}
</body>
</html>
`))
