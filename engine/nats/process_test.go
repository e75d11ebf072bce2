package nats

// These tests run the real thing: the sparknet binary (built once by
// TestMain) as driver and worker processes on loopback, training LeNet on a
// Fashion-MNIST subset.

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sparknet/sparknet/data"
)

// binary is the sparknet executable TestMain built ("" if it could not).
var (
	sparknetBin string
	binaryErr   error
)

// buildBinary builds cmd/sparknet into dir.
func buildBinary(dir string) (string, error) {
	out := filepath.Join(dir, "sparknet")
	cmd := exec.Command("go", "build", "-o", out, "github.com/sparknet/sparknet/cmd/sparknet")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build: %v\n%s", err, b)
	}
	return out, nil
}

func requireTools() bool {
	for _, v := range []string{os.Getenv("SPARKNET_REQUIRE_TOOLS"), os.Getenv("CI")} {
		if v != "" && v != "0" && v != "false" {
			return true
		}
	}
	return false
}

const fashionDir = "/usr/share/datasets/fashion-mnist"

// fixture is the data and solvers the process tests share.
type fixture struct {
	dir      string // train_lmdb, test_lmdb, net.prototxt
	refModel []byte // the local engine's final weights
	refAcc   float64
	// int8 is the reference run with -compress int8, made on first use.
	int8Once sync.Once
	int8Ref  []byte
	int8Err  error
}

var (
	fixOnce sync.Once
	fix     *fixture
	fixErr  error
)

// shared returns the fixture, making it on first use: the data subsets and
// the reference run on the local engine.
func shared(t *testing.T) *fixture {
	t.Helper()
	if binaryErr != nil {
		t.Fatal(binaryErr)
	}
	images := filepath.Join(fashionDir, "train-images-idx3-ubyte.gz")
	if _, err := os.Stat(images); err != nil {
		msg := images + " not found: apt-get install dataset-fashion-mnist"
		if requireTools() {
			t.Fatal(msg + " (required because CI or SPARKNET_REQUIRE_TOOLS is set)")
		}
		t.Skip(msg)
	}
	fixOnce.Do(func() { fix, fixErr = makeFixture() })
	if fixErr != nil {
		t.Fatal(fixErr)
	}
	return fix
}

var fixtureRoot string

func makeFixture() (*fixture, error) {
	f := &fixture{dir: filepath.Join(fixtureRoot, "data")}
	if err := os.MkdirAll(f.dir, 0o755); err != nil {
		return nil, err
	}
	if err := fashionLMDB("train", 1200, filepath.Join(f.dir, "train_lmdb")); err != nil {
		return nil, err
	}
	if err := fashionLMDB("t10k", 200, filepath.Join(f.dir, "test_lmdb")); err != nil {
		return nil, err
	}
	net, err := os.ReadFile("../../examples/lenet/lenet_train_test.prototxt")
	if err != nil {
		return nil, err
	}
	text := strings.NewReplacer(
		"examples/lenet/fmnist_train_lmdb", filepath.Join(f.dir, "train_lmdb"),
		"examples/lenet/fmnist_test_lmdb", filepath.Join(f.dir, "test_lmdb"),
		"batch_size: 64", "batch_size: 16").Replace(string(net))
	if err := os.WriteFile(filepath.Join(f.dir, "net.prototxt"), []byte(text), 0o644); err != nil {
		return nil, err
	}
	// The reference: the same run on the local engine.
	var out []byte
	f.refModel, out, err = f.reference("reference", 40)
	if err != nil {
		return nil, err
	}
	if f.refAcc, err = lastAccuracy(string(out)); err != nil {
		return nil, err
	}
	return f, nil
}

// reference trains the runs' model for iters iterations on the local
// engine, with extra flags, and returns its final weights and output.
func (f *fixture) reference(name string, iters int, extra ...string) ([]byte, []byte, error) {
	run := f.newRun(name, iters)
	args := append([]string{"train", "-solver", run.solver, "-workers", "3", "-tau", "5", "-threads", "2"}, extra...)
	out, err := exec.Command(sparknetBin, args...).CombinedOutput()
	if err != nil {
		return nil, nil, fmt.Errorf("reference run %s: %v\n%s", name, err, out)
	}
	model, err := os.ReadFile(run.model(iters))
	return model, out, err
}

// reference8 returns the final weights of the reference run with -compress
// int8.
func (f *fixture) reference8(t *testing.T) []byte {
	t.Helper()
	f.int8Once.Do(func() { f.int8Ref, _, f.int8Err = f.reference("reference-int8", 40, "-compress", "int8") })
	if f.int8Err != nil {
		t.Fatal(f.int8Err)
	}
	return f.int8Ref
}

// fashionLMDB writes the first n images of a Fashion-MNIST set.
func fashionLMDB(set string, n int, out string) error {
	dims, pix, err := data.ReadIDX(filepath.Join(fashionDir, set+"-images-idx3-ubyte.gz"))
	if err != nil {
		return err
	}
	_, lab, err := data.ReadIDX(filepath.Join(fashionDir, set+"-labels-idx1-ubyte.gz"))
	if err != nil {
		return err
	}
	w, err := data.CreateDB(data.LMDB, out)
	if err != nil {
		return err
	}
	per := dims[1] * dims[2]
	d := data.Datum{Channels: 1, Height: dims[1], Width: dims[2]}
	for i := 0; i < n; i++ {
		d.Data, d.Label = pix[i*per:(i+1)*per], int32(lab[i])
		if err := w.Put(fmt.Appendf(nil, "%08d", i), d.AppendMarshal(nil)); err != nil {
			w.Abort()
			return err
		}
	}
	return w.Close()
}

// testRun is one run's solver and snapshot prefix.
type testRun struct{ dir, solver, prefix string }

func (r testRun) model(iter int) string { return fmt.Sprintf("%s_iter_%d.caffemodel", r.prefix, iter) }
func (r testRun) state(iter int) string { return fmt.Sprintf("%s_iter_%d.solverstate", r.prefix, iter) }

// newRun writes a solver for LeNet on the subset with its own snapshot
// prefix: test at the end, snapshot every 10 iterations.
func (f *fixture) newRun(name string, maxIter int) testRun {
	dir := filepath.Join(fixtureRoot, name)
	os.RemoveAll(dir) // a fresh run each time (go test -count N)
	os.MkdirAll(dir, 0o755)
	r := testRun{dir: dir, solver: filepath.Join(dir, "solver.prototxt"), prefix: filepath.Join(dir, "lenet")}
	text := fmt.Sprintf(`net: %q
test_iter: 2 test_interval: 40
base_lr: 0.01 momentum: 0.9 weight_decay: 0.0005
lr_policy: "inv" gamma: 0.0001 power: 0.75
display: 0 max_iter: %d snapshot: 10 snapshot_prefix: %q
random_seed: 1701
`, filepath.Join(f.dir, "net.prototxt"), maxIter, r.prefix)
	os.WriteFile(r.solver, []byte(text), 0o644)
	return r
}

var accRE = regexp.MustCompile(`Test net output #0: accuracy = ([0-9.eE+-]+)`)

// lastAccuracy returns the last test accuracy a log shows.
func lastAccuracy(log string) (float64, error) {
	m := accRE.FindAllStringSubmatch(log, -1)
	if len(m) == 0 {
		return 0, fmt.Errorf("no test accuracy in the log:\n%s", log)
	}
	return strconv.ParseFloat(m[len(m)-1][1], 64)
}

// proc is a running sparknet process whose output is collected and
// scanned for patterns.
type proc struct {
	name string
	cmd  *exec.Cmd
	mu   sync.Mutex
	out  bytes.Buffer
	subs []*lineWait
	done chan struct{}
	err  error
}

type lineWait struct {
	re *regexp.Regexp
	ch chan []string
}

// start runs the binary with args in dir ("" for the test's directory).
func start(t *testing.T, name, dir string, args ...string) *proc {
	t.Helper()
	p := &proc{name: name, cmd: exec.Command(sparknetBin, args...), done: make(chan struct{})}
	p.cmd.Dir = dir
	p.cmd.Env = append(os.Environ(), "HOME="+t.TempDir())
	r, w := io.Pipe()
	p.cmd.Stdout, p.cmd.Stderr = w, w
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 1<<16), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			p.mu.Lock()
			p.out.WriteString(line + "\n")
			for _, s := range p.subs {
				if m := s.re.FindStringSubmatch(line); m != nil {
					select {
					case s.ch <- m:
					default:
					}
				}
			}
			p.mu.Unlock()
		}
	}()
	go func() {
		p.err = p.cmd.Wait()
		w.Close()
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			p.cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

// watch returns a channel that receives the submatches of the first
// output line matching re after the call.
func (p *proc) watch(re string) <-chan []string {
	w := &lineWait{re: regexp.MustCompile(re), ch: make(chan []string, 1)}
	p.mu.Lock()
	p.subs = append(p.subs, w)
	p.mu.Unlock()
	return w.ch
}

func (p *proc) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.String()
}

// wait waits for the process to exit and returns its error.
func (p *proc) wait(t *testing.T, d time.Duration) error {
	t.Helper()
	select {
	case <-p.done:
		time.Sleep(50 * time.Millisecond) // let the output drain
		return p.err
	case <-time.After(d):
		p.cmd.Process.Kill()
		<-p.done
		t.Fatalf("%s did not finish within %v; output:\n%s", p.name, d, p.output())
		return nil
	}
}

// await waits for a line on ch, failing the test after d.
func await(t *testing.T, p *proc, ch <-chan []string, what string, d time.Duration) []string {
	t.Helper()
	select {
	case m := <-ch:
		return m
	case <-p.done:
		t.Fatalf("%s exited before %s: %v; output:\n%s", p.name, what, p.err, p.output())
	case <-time.After(d):
		t.Fatalf("%s: no %s within %v; output:\n%s", p.name, what, d, p.output())
	}
	return nil
}

var urlRE = `listening at (nats://[0-9.:]+)`

// TestProcessesMatchLocal trains with a driver and three worker processes
// and requires the local engine's final weights bit for bit. Meanwhile a
// worker with a wrong token is refused (and the driver logs it), and
// `sparknet status` lists the workers and the run.
func TestProcessesMatchLocal(t *testing.T) {
	f := shared(t)
	run := f.newRun("match", 40)
	driver := start(t, "driver", "", "train", "-solver", run.solver, "-workers", "3", "-tau", "5",
		"-engine", "nats", "-nats-listen", "127.0.0.1:0", "-nats-token", "s3cret")
	refused := driver.watch(`(?i)nats-server: .*authentication error`)
	addr := await(t, driver, driver.watch(urlRE), "server URL", 30*time.Second)[1]

	bad := start(t, "bad worker", "", "worker", "-nats", addr, "-nats-token", "wrong")
	if err := bad.wait(t, 20*time.Second); err == nil || !strings.Contains(bad.output(), "Authorization Violation") {
		t.Errorf("a worker with a wrong token: exit %v, output:\n%s", err, bad.output())
	}
	await(t, driver, refused, "a log line about the refused worker", 10*time.Second)

	for i := 0; i < 3; i++ {
		start(t, fmt.Sprintf("worker %d", i), "", "worker", "-nats", addr, "-nats-token", "s3cret",
			"-threads", "1", "-name", fmt.Sprintf("match-%d", i))
	}
	waitStatus(t, addr, "s3cret", func(st *Status) bool { return len(st.Workers) >= 3 && len(st.Runs) == 1 })

	if err := driver.wait(t, 3*time.Minute); err != nil {
		t.Fatalf("driver: %v\n%s", err, driver.output())
	}
	got, err := os.ReadFile(run.model(40))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, f.refModel) {
		t.Fatalf("the NATS run's final weights differ from the local engine's\ndriver output:\n%s", driver.output())
	}
}

// waitStatus polls `sparknet status -json` until ok accepts it.
func waitStatus(t *testing.T, url, token string, ok func(*Status) bool) *Status {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	var last string
	for time.Now().Before(deadline) {
		out, err := exec.Command(sparknetBin, "status", "-nats", url, "-nats-token", token, "-json").Output()
		if err == nil {
			var st Status
			if json.Unmarshal(out, &st) == nil && ok(&st) {
				return &st
			}
		}
		last = string(out)
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("status never showed what was expected; last:\n%s", last)
	return nil
}

// TestWorkerKilledMidRound kills one of three workers with SIGKILL while it
// runs a task: the task is handed to another worker after the ack wait, the
// run finishes, and its accuracy is the undisturbed run's (within half a
// point; with redelivery the weights are in fact the same). The workers run
// in another directory and get the data through the object store
// (-ship-data).
func TestWorkerKilledMidRound(t *testing.T) {
	f := shared(t)
	run := f.newRun("killworker", 40)
	driver := start(t, "driver", "", "train", "-solver", run.solver, "-workers", "3", "-tau", "5",
		"-engine", "nats", "-nats-token", "tok", "-nats-ack-wait", "1s", "-ship-data")
	addr := await(t, driver, driver.watch(urlRE), "server URL", 30*time.Second)[1]
	elsewhere := t.TempDir()
	var workers []*proc
	var caches []string
	for i := 0; i < 3; i++ {
		cache := filepath.Join(elsewhere, fmt.Sprintf("cache%d", i))
		caches = append(caches, cache)
		workers = append(workers, start(t, fmt.Sprintf("worker %d", i), elsewhere, "worker", "-nats", addr,
			"-nats-token", "tok", "-threads", "1", "-name", fmt.Sprintf("kw-%d", i), "-cache", cache))
	}
	victim := workers[0]
	await(t, victim, victim.watch(`round [3-9] partition \d+: started`), "a task in round 3 or later", time.Minute)
	if err := victim.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if err := driver.wait(t, 3*time.Minute); err != nil {
		t.Fatalf("driver: %v\n%s", err, driver.output())
	}
	redelivered := false
	for _, w := range workers[1:] {
		if strings.Contains(w.output(), "(delivery 2)") {
			redelivered = true
		}
	}
	if !redelivered {
		t.Errorf("no worker ran a redelivered task; worker outputs:\n%s\n%s", workers[1].output(), workers[2].output())
	}
	acc, err := lastAccuracy(driver.output())
	if err != nil {
		t.Fatal(err)
	}
	if d := acc - f.refAcc; d > 0.005 || d < -0.005 {
		t.Errorf("final accuracy %.4f, the undisturbed run's %.4f", acc, f.refAcc)
	}
	got, _ := os.ReadFile(run.model(40))
	t.Logf("final accuracy %.4f (undisturbed %.4f); weights identical to the undisturbed run: %v", acc, f.refAcc, bytes.Equal(got, f.refModel))
	// The shipped data landed in the workers' caches.
	if m, _ := filepath.Glob(filepath.Join(caches[1], "data", "*", "data.mdb")); len(m) == 0 {
		t.Errorf("no shipped LMDB in %s", caches[1])
	}
}

// TestDriverKilledResumes kills the driver (and with it the workers it
// spawned) after a snapshot, resumes from that snapshot, and requires the
// uninterrupted run's final weights (the local engine's): no round is run
// twice or skipped. With int8 the checkpoint holds the workers' replica of
// the weights, which the resumed run's first update applies to: the
// resumed driver's new workers fetch it whole.
func TestDriverKilledResumes(t *testing.T) {
	for _, codec := range []string{"none", "int8"} {
		t.Run(codec, func(t *testing.T) { testDriverKilledResumes(t, codec) })
	}
}

func testDriverKilledResumes(t *testing.T, codec string) {
	f := shared(t)
	// Long enough that the driver, killed just after its snapshot at
	// iteration 20, cannot have reached the end whatever the load (a round
	// takes milliseconds here).
	const iters = 200
	want, _, err := f.reference("reference-kill-"+codec, iters, "-compress", codec)
	if err != nil {
		t.Fatal(err)
	}
	run := f.newRun("killdriver-"+codec, iters)
	args := []string{"train", "-solver", run.solver, "-workers", "3", "-tau", "5", "-engine", "nats", "-spawn", "3", "-threads", "3", "-compress", codec}
	driver := start(t, "driver", "", args...)
	await(t, driver, driver.watch(`Snapshotting solver state to binary proto file .*_iter_20\.solverstate`), "the snapshot at iteration 20", 2*time.Minute)
	// The log line comes before the file is written.
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		if _, err := os.Stat(run.state(20)); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %s\n%s", run.state(20), driver.output())
		}
	}
	pid := driver.cmd.Process.Pid
	if err := driver.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	driver.wait(t, 10*time.Second)
	// The spawned workers die with their driver.
	deadline := time.Now().Add(10 * time.Second)
	for spawnedAlive(pid) {
		if time.Now().After(deadline) {
			t.Fatal("the spawned workers outlived their killed driver")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if _, err := os.Stat(run.state(iters)); err == nil {
		t.Fatal("the killed run got to the end; kill it earlier")
	}

	resumed := start(t, "resumed driver", "", append(args, "-snapshot", run.state(20))...)
	if err := resumed.wait(t, 3*time.Minute); err != nil {
		t.Fatalf("resumed driver: %v\n%s", err, resumed.output())
	}
	out := resumed.output()
	if !strings.Contains(out, "Resuming from "+run.state(20)) {
		t.Errorf("the resumed run does not say it resumed:\n%s", out)
	}
	got, err := os.ReadFile(run.model(iters))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("the resumed run's final weights differ from the uninterrupted run's\n%s", out)
	}
	// The metrics log has every iteration once.
	b, err := os.ReadFile(run.prefix + "_metrics.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	seen := map[float64]bool{}
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatal(err)
		}
		it, ok := rec["iter"].(float64)
		if !ok || rec["loss"] == nil {
			continue
		}
		if seen[it] {
			t.Errorf("iteration %v recorded twice in the metrics", it)
		}
		seen[it] = true
	}
}

// spawnedAlive reports whether a process spawned by driver pid still runs.
func spawnedAlive(pid int) bool {
	tag := fmt.Sprintf("-spawn0-%d", pid)
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		b, err := os.ReadFile(p)
		if err == nil && bytes.Contains(b, []byte(tag)) {
			return true
		}
	}
	return false
}

// TestBadResultsDropped has two workers send corrupt deltas, one with a NaN
// weight and one a value short: the driver drops both, logs why, averages
// nothing and stops with the quorum error instead of training on them.
func TestBadResultsDropped(t *testing.T) {
	f := shared(t)
	run := f.newRun("badresults", 5)
	log := &syncBuffer{}
	srv, err := StartServer(ServerConfig{StoreDir: t.TempDir(), Security: Security{Token: "tk"}, Log: log})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	url := srv.URL()
	for i, fault := range []string{"nan", "shape"} {
		start(t, "worker "+fault, "", "worker", "-nats", url, "-nats-token", "tk", "-threads", "1",
			"-name", fmt.Sprintf("faulty-%d", i), "-inject-fault", fault)
	}
	waitStatus(t, url, "tk", func(st *Status) bool { return len(st.Workers) == 2 })
	driver := start(t, "driver", "", "train", "-solver", run.solver, "-workers", "2", "-tau", "5",
		"-engine", "nats", "-nats", url, "-nats-token", "tk")
	err = driver.wait(t, 2*time.Minute)
	out := driver.output()
	if err == nil {
		t.Fatalf("the driver trained on corrupt results:\n%s", out)
	}
	for _, want := range []string{
		"dropped the result of partition",
		"is NaN",
		"the worker reports a delta of",
		"only 0 of 2 workers reported, fewer than the quorum of 1",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("the driver's output lacks %q:\n%s", want, out)
		}
	}
	if _, err := os.Stat(run.model(5)); err == nil {
		t.Error("the driver wrote weights after a round of corrupt results")
	}
}
