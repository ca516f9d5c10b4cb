package appliance_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/anacrolix/torrent/bencode"

	"github.com/swarmlight/swarmlight/appliance"
	"github.com/swarmlight/swarmlight/appliance/config"
	"github.com/swarmlight/swarmlight/appliance/panel"
	"github.com/swarmlight/swarmlight/appliance/privacytest"
	"github.com/swarmlight/swarmlight/appliance/swarm"
	"github.com/swarmlight/swarmlight/appliance/tracker"
	"github.com/swarmlight/swarmlight/hw/sim"
)

// live is the real tracker, run in-process as the service runs it: with a log
// whose level and format a reload changes, a SIGHUP channel, and a Reload that
// returns what the test set. Memory locking is counted, not done: the test
// shares its process with others.
type live struct {
	t      *testing.T
	logs   *privacytest.Output
	out    *lineWriter
	hup    chan os.Signal
	urls   []string
	stop   func() error
	locks  atomic.Int32
	unlock atomic.Int32

	mu      sync.Mutex
	next    config.Config
	nextErr error

	// What the hooks saw.
	trk      atomic.Pointer[tracker.Tracker]
	panelCfg atomic.Pointer[config.Panel]
	errLED   atomic.Pointer[sim.LED]
	store    atomic.Pointer[swarm.Opts]
}

func startLive(t *testing.T, cfg config.Config) *live {
	t.Helper()
	l := &live{t: t, logs: &privacytest.Output{}, out: newLineWriter(), hup: make(chan os.Signal, 1)}
	restore := appliance.SetTestHooks(func(p config.Panel, d panel.Devices) {
		l.panelCfg.Store(&p)
		if led, ok := d.Error.(*sim.LED); ok {
			l.errLED.Store(led)
		}
	}, func(trk *tracker.Tracker) { l.trk.Store(trk) }, func(o swarm.Opts) { l.store.Store(&o) })
	t.Cleanup(restore)
	level := new(slog.LevelVar)
	level.Set(cfg.Log.Level)
	h := appliance.NewLogHandler(l.logs, cfg.Log.Format, level)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- appliance.Run(ctx, cfg, slog.New(h), appliance.Options{
			Stdout: l.out, Hangup: l.hup, Reload: l.load, Level: level, LogHandler: h,
			LockMemory:   func() error { l.locks.Add(1); return nil },
			UnlockMemory: func() error { l.unlock.Add(1); return nil },
		})
	}()
	var once sync.Once
	var stopErr error
	l.stop = func() error {
		once.Do(func() {
			cancel()
			select {
			case stopErr = <-done:
			case <-time.After(5 * time.Second):
				stopErr = errors.New("Run did not return within 5 s of being stopped")
			}
		})
		return stopErr
	}
	t.Cleanup(func() { _ = l.stop() })
	deadline := time.After(10 * time.Second)
	for len(l.urls) < len(cfg.HTTP.Listen)+len(cfg.UDP.Listen) {
		select {
		case u := <-l.out.lines:
			l.urls = append(l.urls, u)
		case err := <-done:
			t.Fatalf("Run returned before serving: %v", err)
		case <-deadline:
			t.Fatalf("no announce URLs within 10 s; got %v", l.urls)
		}
	}
	return l
}

func (l *live) load() (config.Config, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.next, l.nextErr
}

// reload sends SIGHUP for c (or for the error cerr) and waits for the outcome:
// whether the configuration was applied.
func (l *live) reload(c config.Config, cerr error) bool {
	l.t.Helper()
	l.mu.Lock()
	l.next, l.nextErr = c, cerr
	l.mu.Unlock()
	count := func() (int, int) {
		s := l.logs.String()
		return strings.Count(s, "reload: configuration reloaded"), strings.Count(s, "keeping the running one")
	}
	ok0, bad0 := count()
	l.hup <- syscall.SIGHUP
	deadline := time.Now().Add(5 * time.Second)
	for {
		ok, bad := count()
		switch {
		case ok > ok0:
			return true
		case bad > bad0:
			return false
		case time.Now().After(deadline):
			l.t.Fatalf("no outcome in the log within 5 s of SIGHUP:\n%s", l.logs)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// eventually polls cond for up to 3 s.
func eventually(cond func() bool) bool {
	for deadline := time.Now().Add(3 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
	}
}

// tryGet is get for goroutines: a failure is returned, not fatal.
func tryGet(c *http.Client, u string) (rawReply, error) {
	resp, err := c.Get(u)
	if err != nil {
		return rawReply{}, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return rawReply{}, err
	}
	if resp.StatusCode != 200 {
		return rawReply{}, fmt.Errorf("status %d", resp.StatusCode)
	}
	var rr rawReply
	if err := bencode.Unmarshal(body, &rr); err != nil {
		return rawReply{}, err
	}
	return rr, nil
}

// freePort finds a port free on 127.0.0.1 for both TCP and UDP.
func freePort(t *testing.T) string {
	t.Helper()
	for range 20 {
		tl, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := tl.Addr().String()
		ul, err := net.ListenPacket("udp", addr)
		tl.Close()
		if err == nil {
			ul.Close()
			return addr
		}
	}
	t.Fatal("no port free for both TCP and UDP")
	return ""
}

// near reports whether an announce interval in seconds is d within the ±10%
// jitter the tracker spreads announces with.
func near(secs int, d time.Duration) bool {
	s := d.Seconds()
	return float64(secs) >= s*0.89 && float64(secs) <= s*1.11
}
