package report

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/sparknet/sparknet/solver"
)

// Progress draws a one-line progress bar (iterations, images per second,
// ETA, the smoothed loss and the last test accuracy) on a terminal. When its
// output is not a terminal it draws nothing, so logs and pipes stay clean.
// It implements solver.Observer and is safe for concurrent use.
type Progress struct {
	mu      sync.Mutex
	out     io.Writer
	enabled bool
	total   int

	started   time.Time
	firstIter int
	iter      int
	images    int64
	loss      float32
	test      string
	drawn     time.Time
	shown     bool
}

// NewProgress returns a progress bar for a run of total iterations written
// to out, enabled only when out is a terminal.
func NewProgress(out io.Writer, total int) *Progress {
	return &Progress{out: out, total: total, enabled: IsTerminal(out)}
}

// IsTerminal reports whether w is a character device (a terminal).
func IsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// Enabled reports whether the bar is drawn.
func (p *Progress) Enabled() bool { return p.enabled }

// OnTrain advances the bar.
func (p *Progress) OnTrain(r solver.TrainRecord) {
	if !p.enabled {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	now := time.Now()
	if p.started.IsZero() {
		p.started, p.firstIter = now, r.Iter
	}
	p.iter = r.Iter + 1
	p.images += int64(r.Images)
	p.loss = r.Smoothed
	if now.Sub(p.drawn) >= 100*time.Millisecond || p.iter == p.total {
		p.draw(now)
	}
}

// OnTest remembers the first output of the latest test for the bar.
func (p *Progress) OnTest(r solver.TestResult) {
	if !p.enabled || len(r.Outputs) == 0 {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	o := r.Outputs[0]
	p.test = fmt.Sprintf("%s %.4g", o.Name, o.Value)
}

// draw writes the bar; p.mu is held.
func (p *Progress) draw(now time.Time) {
	p.drawn = now
	p.shown = true
	const width = 24
	frac := 0.0
	if p.total > 0 {
		frac = float64(p.iter) / float64(p.total)
		frac = min(max(frac, 0), 1)
	}
	filled := int(frac * width)
	bar := strings.Repeat("=", filled)
	if filled < width {
		bar += ">" + strings.Repeat(" ", width-filled-1)
	}
	elapsed := now.Sub(p.started).Seconds()
	var rate, eta string
	if done := p.iter - p.firstIter; elapsed > 0 && done > 0 {
		rate = fmt.Sprintf("%.0f img/s", float64(p.images)/elapsed)
		left := time.Duration(float64(p.total-p.iter) * elapsed / float64(done) * float64(time.Second))
		eta = "ETA " + left.Round(time.Second).String()
	}
	line := fmt.Sprintf("\r[%s] %d/%d %3.0f%% | %s | %s | loss %.4g", bar, p.iter, p.total, 100*frac, rate, eta, p.loss)
	if p.test != "" {
		line += " | " + p.test
	}
	io.WriteString(p.out, line+"\x1b[K")
}

// clear erases the bar; p.mu is held.
func (p *Progress) clear() {
	if p.shown {
		io.WriteString(p.out, "\r\x1b[K")
		p.shown = false
	}
}

// Done erases the bar, e.g. before the program prints its last words.
func (p *Progress) Done() {
	if !p.enabled {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.clear()
}

// LogWriter returns a writer for log lines that share the terminal with the
// bar: each write erases the bar, writes the text and draws the bar again.
// When the bar is disabled it returns w itself.
func (p *Progress) LogWriter(w io.Writer) io.Writer {
	if !p.enabled {
		return w
	}
	return &progressLog{p: p, w: w}
}

type progressLog struct {
	p *Progress
	w io.Writer
}

func (l *progressLog) Write(b []byte) (int, error) {
	l.p.mu.Lock()
	defer l.p.mu.Unlock()
	wasShown := l.p.shown
	l.p.clear()
	n, err := l.w.Write(b)
	if wasShown {
		l.p.draw(time.Now())
	}
	return n, err
}
