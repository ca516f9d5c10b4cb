package appliance_test

import (
	"net"
	"strings"
	"testing"
	"time"

	"github.com/swarmlight/swarmlight/appliance/config"
)

// TestBadReloadChangesNothing: a reload that cannot be applied whole (a bad
// configuration, or a new address that cannot be bound) changes nothing, not
// even the parts that were fine, is logged, and lights the error LED until a
// good configuration is loaded.
func TestBadReloadChangesNothing(t *testing.T) {
	cfg := defaultConfig(t)
	cfg.HTTP.Listen = []string{"127.0.0.1:0"}
	cfg.UDP.Listen = []string{"127.0.0.1:0"}
	cfg.Panel.Mode = "sim"
	l := startLive(t, cfg)
	tcpTaken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer tcpTaken.Close()
	udpTaken, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer udpTaken.Close()
	interval := func() int {
		return get(t, "", l.urls[0]+"?"+query("abcdefghij0123456789", "-AA0001-000000000001", "6881", "left=0")).Interval
	}
	lit := func() bool { led := l.errLED.Load(); return led != nil && led.State() }
	if !eventually(func() bool { return !lit() }) {
		t.Fatal("error LED lit before any reload")
	}

	changed := cfg
	changed.Tracker.Interval, changed.Tracker.MinInterval = 3*time.Minute, time.Minute
	changed.Log.Format = "json"
	for _, tc := range []struct {
		name    string
		next    func() config.Config
		err     error
		wantLog string
	}{
		{"invalid configuration", func() config.Config { return config.Config{} },
			config.Errors{{Key: "tracker.interval", Problem: "want a duration"}}, "tracker.interval"},
		{"http address taken", func() config.Config {
			c := changed
			c.HTTP.Listen = append([]string{tcpTaken.Addr().String()}, cfg.HTTP.Listen...)
			return c
		}, nil, "http.listen"},
		{"udp address taken", func() config.Config {
			c := changed
			c.UDP.Listen = append([]string{udpTaken.LocalAddr().String()}, cfg.UDP.Listen...)
			return c
		}, nil, "udp.listen"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if l.reload(tc.next(), tc.err) {
				t.Fatal("a bad reload was applied")
			}
			logs := l.logs.String()
			if i := strings.LastIndex(logs, "keeping the running one"); !strings.Contains(logs[strings.LastIndex(logs[:i], "\n")+1:], tc.wantLog) {
				t.Errorf("the refusal does not name %s:\n%s", tc.wantLog, logs)
			}
			if got := interval(); !near(got, cfg.Tracker.Interval) {
				t.Errorf("interval %d s after a refused reload, want %v as before", got, cfg.Tracker.Interval)
			}
			if strings.Contains(logs, `"msg":`) {
				t.Errorf("a refused reload changed the log format:\n%s", logs)
			}
			if !eventually(lit) {
				t.Error("error LED not lit after a refused reload")
			}
			if !l.reload(cfg, nil) {
				t.Fatal("the running configuration was refused")
			}
			if !eventually(func() bool { return !lit() }) {
				t.Error("error LED still lit after a good reload")
			}
		})
	}
	if err := l.stop(); err != nil {
		t.Fatal(err)
	}
}
