package appliance_test

import (
	"log/slog"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/swarmlight/swarmlight/appliance/config"
)

// TestReload: SIGHUP reloads the configuration. A bad one changes nothing and the
// tracker keeps serving; a good one changes the log level at once and names what
// needs a restart.
func TestReload(t *testing.T) {
	cfg := defaultConfig(t)
	cfg.HTTP.Listen = []string{"127.0.0.1:0"}
	cfg.Panel.Mode = "sim"
	level := new(slog.LevelVar)
	level.Set(slog.LevelInfo)
	var mu sync.Mutex
	var next config.Config
	var nextErr error
	hup := make(chan os.Signal, 1)
	r := start(t, cfg, startOpts{hangup: hup, level: level, reload: func() (config.Config, error) {
		mu.Lock()
		defer mu.Unlock()
		return next, nextErr
	}})
	reloadWith := func(c config.Config, err error, wantLog string) {
		t.Helper()
		mu.Lock()
		next, nextErr = c, err
		mu.Unlock()
		before := strings.Count(r.logs.String(), wantLog)
		hup <- syscall.SIGHUP
		deadline := time.Now().Add(5 * time.Second)
		for strings.Count(r.logs.String(), wantLog) == before {
			if time.Now().After(deadline) {
				t.Fatalf("no %q in the log after SIGHUP:\n%s", wantLog, r.logs)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}

	reloadWith(config.Config{}, config.Errors{{Key: "tracker.interval", Problem: "want a duration"}}, "keeping the running one")
	if rr := get(t, "", r.urls[0]+"?"+query("abcdefghij0123456789", "-AA0001-000000000001", "6881", "left=0")); rr.FailureReason != "" {
		t.Errorf("after a failed reload: %+v", rr)
	}
	if level.Level() != slog.LevelInfo {
		t.Errorf("a failed reload changed the log level to %v", level.Level())
	}

	debug := cfg
	debug.Log.Level = slog.LevelDebug
	reloadWith(debug, nil, "configuration reloaded")
	if level.Level() != slog.LevelDebug {
		t.Errorf("log level %v after reloading debug", level.Level())
	}

	longer := debug
	longer.Tracker.Interval = time.Hour
	reloadWith(longer, nil, "restart to apply the rest")
	if !strings.Contains(r.logs.String(), "changed=tracker") {
		t.Errorf("the restart warning does not name the tracker section:\n%s", r.logs)
	}
	if err := r.stop(); err != nil {
		t.Fatal(err)
	}
}
