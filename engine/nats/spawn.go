package nats

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"

	"sync"
	"syscall"
	"time"
)

// Environment variables a worker reads its secrets from when the flags do
// not give them (spawned workers get them this way, so they do not show in
// the process list).
const (
	EnvToken = "SPARKNET_NATS_TOKEN"
)

// spawner is a set of worker processes started by the driver.
type spawner struct {
	cmds []*exec.Cmd
	wg   sync.WaitGroup
}

// spawnWorkers starts n `sparknet worker` processes of exe connected to
// url, their output copied line by line to log with a "[name] " prefix.
func spawnWorkers(exe, url string, sec Security, n int, extra []string, log io.Writer) (*spawner, error) {
	s := &spawner{}
	host, _ := os.Hostname()
	var mu sync.Mutex // serializes lines from the workers
	for i := 0; i < n; i++ {
		name := SanitizeName(fmt.Sprintf("%s-spawn%d-%d", host, i, os.Getpid()))
		args := []string{"worker", "-nats", url, "-name", name, "-quiet"}
		if sec.NKeyFile != "" {
			args = append(args, "-nats-nkey", sec.NKeyFile)
		}
		if sec.TLSCA != "" {
			args = append(args, "-tls-ca", sec.TLSCA)
		}
		if sec.TLSCert != "" {
			// The server's certificate doubles as the spawned workers'
			// client certificate only if it allows client auth; give
			// workers their own with -tls-cert on their command line.
			args = append(args, "-tls-cert", sec.TLSCert, "-tls-key", sec.TLSKey)
		}
		args = append(args, extra...)
		cmd := exec.Command(exe, args...)
		cmd.Env = os.Environ()
		if sec.Token != "" {
			cmd.Env = append(cmd.Env, EnvToken+"="+sec.Token)
		}
		setParentDeathSignal(cmd)
		out, err := cmd.StdoutPipe()
		if err != nil {
			s.stop()
			return nil, err
		}
		cmd.Stderr = cmd.Stdout
		if err := cmd.Start(); err != nil {
			s.stop()
			return nil, fmt.Errorf("starting worker %d (%s): %w", i, exe, err)
		}
		s.cmds = append(s.cmds, cmd)
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			sc := bufio.NewScanner(out)
			sc.Buffer(make([]byte, 64<<10), 1<<20)
			for sc.Scan() {
				mu.Lock()
				fmt.Fprintf(log, "[%s] %s\n", name, sc.Text())
				mu.Unlock()
			}
		}()
	}
	return s, nil
}

// stop asks the workers to finish (SIGTERM), kills those still running
// after 5 seconds, and waits for them.
func (s *spawner) stop() {
	for _, c := range s.cmds {
		if c.Process != nil {
			_ = c.Process.Signal(syscall.SIGTERM)
		}
	}
	done := make(chan struct{})
	go func() {
		for _, c := range s.cmds {
			_ = c.Wait()
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		for _, c := range s.cmds {
			if c.Process != nil {
				_ = c.Process.Kill()
			}
		}
		<-done
	}
	s.wg.Wait()
}
