package appliance_test

import (
	"bytes"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestPanelHardwareAbsent: a panel configured for a display on an I2C bus this
// machine does not have costs one clear log line, and tracking goes on.
func TestPanelHardwareAbsent(t *testing.T) {
	cfg := defaultConfig(t)
	cfg.HTTP.Listen = []string{"127.0.0.1:0"}
	cfg.Panel.Mode = "auto"
	cfg.Panel.Display = true
	cfg.Panel.DisplayBus = "77"
	r := start(t, cfg)
	rr := get(t, "", r.urls[0]+"?"+query("abcdefghij0123456789", "-AA0001-000000000001", "6881", "left=0"))
	if rr.FailureReason != "" || rr.Complete != 1 {
		t.Fatalf("announce with the display missing: %+v", rr)
	}
	if err := r.stop(); err != nil {
		t.Fatal(err)
	}
	logs := r.logs.String()
	if n := strings.Count(logs, `i2c bus \"77\"`); n != 1 {
		t.Errorf("%d log lines about the missing bus, want exactly 1:\n%s", n, logs)
	}
	if !strings.Contains(logs, "level=WARN") || strings.Contains(logs, "level=ERROR") {
		t.Errorf("a missing device is a warning, nothing worse:\n%s", logs)
	}
}

// TestSimulatedPanelPNG: with the simulated panel, the display is a PNG kept up to
// date as the tracker runs (what `make run` shows).
func TestSimulatedPanelPNG(t *testing.T) {
	cfg := defaultConfig(t)
	cfg.HTTP.Listen = []string{"127.0.0.1:0"}
	cfg.Panel.Mode = "sim"
	cfg.Panel.SimPNG = filepath.Join(t.TempDir(), "panel.png")
	cfg.Panel.PageInterval = time.Second
	r := start(t, cfg)
	var versions [][]byte
	deadline := time.Now().Add(10 * time.Second)
	for i := 0; len(versions) < 3 && time.Now().Before(deadline); i++ {
		get(t, "", r.urls[0]+"?"+query("abcdefghij0123456789", "-AA0001-0000000000"+string(rune('a'+i%26))+"1", "6881", "left=1"))
		b, err := os.ReadFile(cfg.Panel.SimPNG)
		if err == nil && (len(versions) == 0 || !bytes.Equal(b, versions[len(versions)-1])) {
			versions = append(versions, b)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if len(versions) < 3 {
		t.Fatalf("the panel PNG changed %d times in 10 s, want it kept up to date", len(versions))
	}
	img, err := png.Decode(bytes.NewReader(versions[len(versions)-1]))
	if err != nil {
		t.Fatalf("panel PNG: %v", err)
	}
	if b := img.Bounds(); b.Dx() < 128 || b.Dy() < 64 {
		t.Errorf("panel PNG is %v, want at least the display's 128x64", b)
	}
}
