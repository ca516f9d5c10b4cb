//go:build unix

package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/swarmlight/swarmlight/appliance/config"
	"github.com/swarmlight/swarmlight/appliance/privacytest"
)

// TestBinary builds the real command and runs it as a process, to check what unit
// tests of run cannot: the exit status the OS sees, the -X version stamp, and
// shutdown on SIGTERM.
func TestBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := buildBinary(t, "v9.9.9-test")

	t.Run("version is stamped by ldflags", func(t *testing.T) {
		out, stderr, status := runBinary(t, bin, "version")
		if status != 0 || out != "swarmlight v9.9.9-test\n" {
			t.Fatalf("status %d, stdout %q, stderr %q", status, out, stderr)
		}
	})

	t.Run("bad config exits 78", func(t *testing.T) {
		bad := configFile(t, "tracker:\n  intervall: 10m\n")
		_, stderr, status := runBinary(t, bin, "serve", "--config", bad)
		if status != 78 || !strings.Contains(stderr, "config: tracker.intervall: unknown key") {
			t.Fatalf("status %d, want 78; stderr:\n%s", status, stderr)
		}
	})

	t.Run("serve announces and stops on SIGTERM", func(t *testing.T) {
		testServe(t, bin)
	})
}

func testServe(t *testing.T, bin string) {
	p := startProc(t, exec.Command(bin, "serve", "--config", configFile(t, ""), "--http.listen", "127.0.0.1:0", "--udp.listen", "127.0.0.1:0"))
	announce := waitForAnnounce(t, p.lines, p.exited, p.stderr)
	checkReachable(t, announce)

	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-p.exited:
		if err != nil {
			t.Fatalf("after SIGTERM: %v, want exit status 0; stderr:\n%s", err, p.stderr)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("still running 5s after SIGTERM; stderr:\n%s", p.stderr)
	}
}

// proc is a started swarmlight process: its stdout lines, its exit, its stderr.
type proc struct {
	cmd    *exec.Cmd
	lines  <-chan string
	exited <-chan error
	stderr *privacytest.Output
}

// startProc starts cmd with a clean environment (plus any cmd.Env already set)
// and kills it when the test ends.
func startProc(t *testing.T, cmd *exec.Cmd) *proc {
	t.Helper()
	cmd.Env = append(cleanEnv(), cmd.Env...)
	// An os.Pipe rather than StdoutPipe: the child gets the file itself, so reading
	// it and waiting for the process do not race.
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout = pw
	stderr := &privacytest.Output{}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	lines := make(chan string)
	done := make(chan struct{})
	t.Cleanup(func() {
		cmd.Process.Kill()
		close(done) // lets the reader go when the test stops listening
		pr.Close()
	})
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			case <-done:
				return
			}
		}
	}()
	return &proc{cmd: cmd, lines: lines, exited: exited, stderr: stderr}
}

// waitForAnnounce returns the first stdout line naming an announce URL.
func waitForAnnounce(t *testing.T, lines <-chan string, exited <-chan error, stderr *privacytest.Output) string {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case line, ok := <-lines:
			if !ok {
				lines = nil // stdout closed; the process is exiting
				continue
			}
			if strings.Contains(line, "/announce") {
				return line
			}
		case err := <-exited:
			t.Fatalf("exited before printing an announce URL: %v; stderr:\n%s", err, stderr)
		case <-deadline:
			t.Fatalf("no line containing /announce on stdout within 10s; stderr:\n%s", stderr)
		}
	}
}

// checkReachable connects to the announce URL's address when the line holds one,
// to show the printed address is the bound one.
func checkReachable(t *testing.T, line string) {
	t.Helper()
	for _, field := range strings.Fields(line) {
		u, err := url.Parse(field)
		if err != nil || u.Host == "" || !strings.Contains(u.Path, "/announce") {
			continue
		}
		conn, err := net.DialTimeout("tcp", u.Host, 5*time.Second)
		if err != nil {
			t.Fatalf("announce URL %s printed but not reachable: %v", field, err)
		}
		conn.Close()
		return
	}
}

// buildBinary compiles this command into a temporary directory.
func buildBinary(t *testing.T, version string) string {
	t.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		goTool = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	bin := filepath.Join(t.TempDir(), "swarmlight")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	build := exec.CommandContext(ctx, goTool, "build", "-o", bin, "-ldflags", "-X main.version="+version, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// runBinary runs the binary to completion and returns its output and exit status.
func runBinary(t *testing.T, bin string, args ...string) (stdout, stderr string, status int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = cleanEnv()
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var exitErr *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exitErr) && exitErr.Exited():
		status = exitErr.ExitCode()
	default:
		t.Fatalf("run %v: %v", args, err)
	}
	return out.String(), errOut.String(), status
}

// cleanEnv is the test's environment without SWARMLIGHT_* settings, so a
// developer's shell cannot change what the binary loads.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, config.EnvPrefix) {
			env = append(env, kv)
		}
	}
	return env
}
