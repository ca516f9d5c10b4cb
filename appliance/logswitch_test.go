package appliance

import (
	"bytes"
	"log/slog"
	"strings"
	"sync"
	"testing"
)

// TestLogHandlerSetFormat: a format change reaches every logger, including ones
// derived before it, and keeps what they added.
func TestLogHandlerSetFormat(t *testing.T) {
	var buf bytes.Buffer
	level := new(slog.LevelVar)
	h := NewLogHandler(&buf, "text", level)
	root := slog.New(h)
	sub := root.With("component", "udp").WithGroup("g")
	for _, tc := range []struct {
		format string
		log    func()
		want   string
	}{
		{"text", func() { root.Info("one", "n", 1) }, `level=INFO msg=one n=1`},
		{"text", func() { sub.Info("two", "n", 2) }, `level=INFO msg=two component=udp g.n=2`},
		{"json", func() { root.Info("three", "n", 3) }, `"level":"INFO","msg":"three","n":3}`},
		{"json", func() { sub.Info("four", "n", 4) }, `"msg":"four","component":"udp","g":{"n":4}}`},
		{"text", func() { sub.Info("five", "n", 5) }, `msg=five component=udp g.n=5`},
	} {
		h.SetFormat(tc.format)
		buf.Reset()
		tc.log()
		if !strings.Contains(buf.String(), tc.want) {
			t.Errorf("%s: got %q, want it to hold %q", tc.format, buf.String(), tc.want)
		}
	}
	level.Set(slog.LevelWarn)
	buf.Reset()
	sub.Info("quiet")
	if buf.Len() != 0 {
		t.Errorf("an info line passed level warn: %q", buf.String())
	}
}

// TestLogHandlerConcurrent: loggers may log while the format changes (run with
// -race).
func TestLogHandlerConcurrent(t *testing.T) {
	h := NewLogHandler(&lockedBuffer{}, "text", slog.LevelInfo)
	log := slog.New(h).With("k", "v")
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 200 {
				log.Info("x")
			}
		}()
	}
	for i := range 50 {
		h.SetFormat([]string{"text", "json"}[i%2])
	}
	wg.Wait()
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}
