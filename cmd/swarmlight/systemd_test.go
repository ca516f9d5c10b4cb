//go:build linux

package main

import (
	"net"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestSystemdNotify runs the real binary the way systemd's Type=notify unit does:
// it must say READY=1 once it serves, ping WATCHDOG=1 at half of WATCHDOG_USEC,
// answer SIGHUP (ExecReload) with RELOADING=1 then READY=1 and keep running, and
// say STOPPING=1 on SIGTERM before exiting 0.
func TestSystemdNotify(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := buildBinary(t, "v0-systemd")
	sock := filepath.Join(t.TempDir(), "notify")
	l, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	msgs := make(chan string, 64)
	go func() {
		buf := make([]byte, 256)
		for {
			n, _, err := l.ReadFromUnix(buf)
			if err != nil {
				close(msgs)
				return
			}
			msgs <- string(buf[:n])
		}
	}()

	cmd := exec.Command(bin, "serve", "--config", configFile(t, ""), "--http.listen", "127.0.0.1:0", "--udp.listen", "127.0.0.1:0", "--panel.mode", "off")
	cmd.Env = []string{"NOTIFY_SOCKET=" + sock, "WATCHDOG_USEC=200000"}
	p := startProc(t, cmd)

	expect := func(want string, within time.Duration) {
		t.Helper()
		deadline := time.After(within)
		for {
			select {
			case m := <-msgs:
				if m == want {
					return
				}
			case err := <-p.exited:
				t.Fatalf("exited waiting for %s: %v\n%s", want, err, p.stderr)
			case <-deadline:
				t.Fatalf("no %s within %v\n%s", want, within, p.stderr)
			}
		}
	}
	expect("READY=1", 10*time.Second)
	for range 3 {
		expect("WATCHDOG=1", 2*time.Second)
	}
	if err := p.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	expect("RELOADING=1", 5*time.Second)
	expect("READY=1", 5*time.Second)
	expect("WATCHDOG=1", 2*time.Second) // still alive after the reload
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	expect("STOPPING=1", 5*time.Second)
	select {
	case err := <-p.exited:
		if err != nil {
			t.Errorf("exit after SIGTERM: %v\n%s", err, p.stderr)
		}
	case <-time.After(5 * time.Second):
		t.Error("still running 5 s after SIGTERM")
	}
	if !strings.Contains(p.stderr.String(), "configuration reloaded") {
		t.Errorf("no reload in the log:\n%s", p.stderr)
	}
}
