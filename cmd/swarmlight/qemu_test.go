//go:build linux

package main

import (
	"context"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	anacrolix "github.com/anacrolix/torrent/tracker"
	"github.com/anacrolix/torrent/types/infohash"
)

// TestARMBinaryUnderQEMU builds the binary the Pi Zero runs (linux/arm, GOARM=6),
// starts it under qemu-arm-static emulating the Zero's ARM1176, and announces to it
// over HTTP and UDP on loopback: the real build for the smallest board answers.
// qemu-user-static is a Debian package; without it the test skips, except under
// CI=true, where that is a failure.
func TestARMBinaryUnderQEMU(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and emulates the ARM binary")
	}
	qemu, err := exec.LookPath("qemu-arm-static")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("qemu-arm-static not found (apt-get install qemu-user-static); CI=true makes this a failure")
		}
		t.Skip("qemu-arm-static not found: apt-get install qemu-user-static")
	}
	bin := filepath.Join(t.TempDir(), "swarmlight-armv6")
	goTool, err := exec.LookPath("go")
	if err != nil {
		goTool = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	build := exec.Command(goTool, "build", "-trimpath", "-ldflags", "-s -w", "-o", bin, ".")
	build.Env = append(os.Environ(), "GOOS=linux", "GOARCH=arm", "GOARM=6", "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build for ARMv6: %v\n%s", err, out)
	}

	p := startProc(t, exec.Command(qemu, "-cpu", "arm1176", bin, "serve", "--config", configFile(t, ""),
		"--http.listen", "127.0.0.1:0", "--udp.listen", "127.0.0.1:0", "--panel.mode", "sim"))
	var httpURL, udpURL string
	deadline := time.After(30 * time.Second) // emulation is slow to start
	for httpURL == "" || udpURL == "" {
		select {
		case u := <-p.lines:
			if strings.HasPrefix(u, "http://") && strings.HasSuffix(u, "/announce") {
				httpURL = u
			} else if strings.HasPrefix(u, "udp://") {
				udpURL = u
			}
		case err := <-p.exited:
			t.Fatalf("ARM binary exited: %v\n%s", err, p.stderr)
		case <-deadline:
			t.Fatalf("ARM binary printed no announce URLs in 30 s\n%s", p.stderr)
		}
	}

	ih := infohash.T{0xa7, 0x6d}
	for i, u := range []string{udpURL, httpURL} {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		res, err := anacrolix.Announce{TrackerUrl: u, Context: ctx, Slogger: slog.New(slog.DiscardHandler), Request: anacrolix.AnnounceRequest{
			InfoHash: ih, PeerId: [20]byte{byte(i)}, Port: uint16(6881 + i), Left: int64(i), Event: anacrolix.Started, NumWant: -1,
		}}.Do()
		cancel()
		if err != nil {
			t.Fatalf("announce to the ARM binary at %s: %v\n%s", u, err, p.stderr)
		}
		if res.Seeders != 1 || len(res.Peers) != i {
			t.Errorf("%s: %+v, want the seeder counted and %d peers", u, res, i)
		}
	}
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-p.exited:
		if err != nil {
			t.Errorf("after SIGTERM: %v\n%s", err, p.stderr)
		}
	case <-time.After(10 * time.Second):
		t.Errorf("ARM binary still running 10 s after SIGTERM\n%s", p.stderr)
	}
}
