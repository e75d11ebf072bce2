package study

import (
	"encoding/csv"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
)

// Load reads the results a study saved in dir (speedup.csv and curves.csv)
// back, to redo its figures and tables, e.g. on the other clock. cfg gives
// what the files do not hold: the target and the bandwidth. The rounds
// between two tests are not in the files; the loaded runs have the compute
// time, bytes and iterations of each stretch between tests on the round
// that ended it, which gives every clock the same value at every test, so
// times to the target, speedups and curves are those of the study.
func Load(dir string, cfg Config) (*Results, error) {
	speed, err := readCSV(filepath.Join(dir, "speedup.csv"))
	if err != nil {
		return nil, err
	}
	curves, err := readCSV(filepath.Join(dir, "curves.csv"))
	if err != nil {
		return nil, err
	}
	if len(speed) < 2 || len(curves) < 1 || len(curves[0]) != 8 || len(speed[0]) < 15 {
		return nil, fmt.Errorf("%s: not a scaling study's results", dir)
	}
	res := &Results{}
	cfg.Output = curves[0][7]
	col := map[string]int{}
	for i, h := range speed[0] {
		col[h] = i
	}
	type key struct {
		outer  string
		k, tau int
	}
	runs := map[key]*Run{}
	atoi := func(s string) int { v, _ := strconv.Atoi(s); return v }
	atof := func(s string) float64 { v, _ := strconv.ParseFloat(s, 64); return v }
	for _, row := range speed[1:] {
		k := key{row[col["outer"]], atoi(row[col["workers"]]), atoi(row[col["tau"]])}
		run := runs[k]
		if run == nil {
			run = &Run{Workers: k.k, Tau: k.tau, Outer: k.outer, Reached: row[col["reached"]] == "true"}
			runs[k] = run
			res.Runs = append(res.Runs, run)
			if !slices.Contains(cfg.Outers, k.outer) {
				cfg.Outers = append(cfg.Outers, k.outer)
			}
			if !slices.Contains(cfg.Workers, k.k) {
				cfg.Workers = append(cfg.Workers, k.k)
			}
			if !slices.Contains(cfg.Taus, k.tau) {
				cfg.Taus = append(cfg.Taus, k.tau)
			}
		}
		if len(res.Runs) == 1 {
			l := atof(row[col["latency"]])
			cfg.Latencies = append(cfg.Latencies, l)
			cfg.LatencyUnit = row[col["latency_unit"]]
			if ls := atof(row[col["latency_s"]]); l > 0 && cfg.LatencyUnit == "iter" {
				res.IterTime = ls / l
			}
		}
	}
	slices.Sort(cfg.Workers)
	slices.Sort(cfg.Taus)
	base := res.Runs[0]
	if base.Workers != 1 || base.Tau != 1 {
		return nil, fmt.Errorf("%s: the first run is not the K=1, tau=1 baseline", dir)
	}
	if res.IterTime == 0 {
		// Latencies in seconds: the baseline's mean compute per iteration
		// stands in for the median the study used.
		for _, row := range speed[1:] {
			if atoi(row[col["workers"]]) == 1 && atoi(row[col["tau"]]) == 1 {
				res.IterTime = atof(row[col["compute_s_per_iter"]])
				break
			}
		}
	}
	last := map[*Run][3]float64{} // compute, bytes, iter at the previous test
	for _, row := range curves[1:] {
		run := runs[key{row[0], atoi(row[1]), atoi(row[2])}]
		if run == nil {
			return nil, fmt.Errorf("%s: curves.csv has a run (%s K=%s tau=%s) that speedup.csv lacks", dir, row[0], row[1], row[2])
		}
		x := Test{Iter: atoi(row[3]), Rounds: atoi(row[4]), Value: atof(row[7])}
		prev := last[run]
		for len(run.Rounds) < x.Rounds {
			run.Rounds = append(run.Rounds, Round{Iter: int(prev[2])})
		}
		if x.Rounds > 0 {
			r := &run.Rounds[x.Rounds-1]
			r.Compute = atof(row[5]) - prev[0]
			r.Bytes = int64(atof(row[6]) - prev[1])
			r.Iter = x.Iter
		}
		last[run] = [3]float64{atof(row[5]), atof(row[6]), float64(x.Iter)}
		run.Tests = append(run.Tests, x)
	}
	res.Config = cfg
	return res, nil
}

func readCSV(path string) ([][]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return rows, nil
}
