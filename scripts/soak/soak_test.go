//go:build soak && linux

// Package soak is swarmlight's fault and soak suite, which `make soak` runs
// (scripts/soak.sh): the real binary on loopback, loaded by the project's own
// load tool, is killed with SIGKILL and restarted, stormed with SIGHUP, run on a
// full disk and given a wall-clock jump. Every check is bounded in count and
// time, and records its figures for the summary table. It runs on Linux, where
// strace, mount and ptrace are.
//
// The binaries under test are $SOAK_BIN (swarmlight) and $SOAK_LOAD (swarmload),
// built from this tree when unset. Each check appends a line to $SOAK_REPORT,
// when set: check, result, figures and totals (key=value pairs that the summary
// adds up), separated by tabs.
package soak

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var swarmlightBin, swarmloadBin string

func TestMain(m *testing.M) {
	os.Exit(runTests(m))
}

// runTests finds the binaries under test, building those not given, and runs the
// checks.
func runTests(m *testing.M) int {
	dir := "" // where binaries built here go, made when first needed
	defer func() {
		if dir != "" {
			os.RemoveAll(dir)
		}
	}()
	for _, b := range []struct {
		path *string
		env  string
		pkg  string
	}{
		{&swarmlightBin, "SOAK_BIN", "../../cmd/swarmlight"},
		{&swarmloadBin, "SOAK_LOAD", "../../cmd/swarmload"},
	} {
		var err error
		if p := os.Getenv(b.env); p != "" {
			*b.path, err = filepath.Abs(p)
		} else {
			if dir == "" {
				dir, err = os.MkdirTemp("", "soak-bin-")
			}
			if err == nil {
				*b.path = filepath.Join(dir, filepath.Base(b.pkg))
				err = goBuild(*b.path, b.pkg)
			}
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "soak: %s: %v\n", b.env, err)
			return 1
		}
	}
	return m.Run()
}

func goBuild(out, pkg string) error {
	goTool, err := exec.LookPath("go")
	if err != nil {
		goTool = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, goTool, "build", "-trimpath", "-o", out, pkg)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("soak: go build %s: %w\n%s", pkg, err, b)
	}
	return nil
}

// record collects one check's figures and, when the check ends, appends its line
// to the report: PASS, FAIL or SKIP, then the figures and the totals.
type record struct {
	mu      sync.Mutex
	figures []string
	totals  []string
}

func newRecord(t *testing.T, check string) *record {
	r := &record{}
	t.Cleanup(func() {
		result := "PASS"
		switch {
		case t.Failed():
			result = "FAIL"
		case t.Skipped():
			result = "SKIP"
		}
		r.mu.Lock()
		figs := strings.Join(r.figures, "; ")
		totals := strings.Join(r.totals, " ")
		r.mu.Unlock()
		t.Logf("%s: %s: %s", check, result, figs)
		if path := os.Getenv("SOAK_REPORT"); path != "" {
			line := strings.Join([]string{check, result, strings.NewReplacer("\t", " ", "\n", " ").Replace(figs), totals}, "\t")
			if err := appendLine(path, line); err != nil {
				t.Errorf("soak: report: %v", err)
			}
		}
	})
	return r
}

func (r *record) add(format string, args ...any) {
	r.mu.Lock()
	r.figures = append(r.figures, fmt.Sprintf(format, args...))
	r.mu.Unlock()
}

// count adds n to one of the summary's totals: announces and failed (the load
// held), faults (survived).
func (r *record) count(key string, n int64) {
	r.mu.Lock()
	r.totals = append(r.totals, fmt.Sprintf("%s=%d", key, n))
	r.mu.Unlock()
}

func appendLine(path, line string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(f, line)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// skipOrFail skips a check this machine cannot run, with the reason in the
// report; under CI=true it is a failure instead, as a missing tool is everywhere
// in this project.
func (r *record) skipOrFail(t *testing.T, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	r.add("%s", msg)
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s (CI=true makes this a failure)", msg)
	}
	t.Skip("SKIP: " + msg)
}

// tracker is a swarmlight process started by a check.
type tracker struct {
	argv   []string
	env    []string
	dir    string
	addr   netip.AddrPort // its UDP and HTTP address
	cmd    *exec.Cmd
	log    *syncBuffer
	exited chan struct{}
	err    error // from Wait, once exited
}

// newTracker prepares (but does not start) swarmlight serving on one free loopback
// port, UDP and HTTP, with an empty configuration file — the built-in defaults,
// which configs/swarmlight.yaml mirrors — and extra flags.
func newTracker(t *testing.T, extra ...string) *tracker {
	t.Helper()
	dir := t.TempDir()
	conf := filepath.Join(dir, "swarmlight.yaml")
	if err := os.WriteFile(conf, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	port := freePort(t)
	addr := netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 0, 1}), port)
	argv := append([]string{swarmlightBin, "serve", "--config", conf,
		"--http.listen", addr.String(), "--udp.listen", addr.String()}, extra...)
	return &tracker{argv: argv, env: cleanEnv(), dir: dir, addr: addr, log: &syncBuffer{}}
}

// start starts the process; it does not wait for it to answer.
func (tr *tracker) start(t *testing.T) {
	t.Helper()
	tr.cmd = exec.Command(tr.argv[0], tr.argv[1:]...)
	tr.cmd.Env, tr.cmd.Dir = tr.env, tr.dir
	tr.cmd.Stdout, tr.cmd.Stderr = io.Discard, tr.log
	if err := tr.cmd.Start(); err != nil {
		t.Fatalf("soak: start swarmlight: %v", err)
	}
	tr.exited = make(chan struct{})
	cmd, exited := tr.cmd, tr.exited
	go func() {
		tr.err = cmd.Wait()
		close(exited)
	}()
	t.Cleanup(func() {
		select {
		case <-exited:
		default:
			cmd.Process.Kill()
			<-exited
		}
	})
}

// waitAnswering polls until the tracker answers a UDP connect and announce, and
// returns when it did.
func (tr *tracker) waitAnswering(t *testing.T, limit time.Duration) time.Time {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		err := probe(tr.addr, 100*time.Millisecond)
		if err == nil {
			return time.Now()
		}
		select {
		case <-tr.exited:
			t.Fatalf("swarmlight exited before answering (%v); its log:\n%s", tr.err, tr.log)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("swarmlight not answering after %v: %v; its log:\n%s", limit, err, tr.log)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (tr *tracker) alive() bool {
	select {
	case <-tr.exited:
		return false
	default:
		return true
	}
}

func (tr *tracker) signal(t *testing.T, sig os.Signal) {
	t.Helper()
	if err := tr.cmd.Process.Signal(sig); err != nil {
		t.Fatalf("soak: signal %v: %v", sig, err)
	}
}

// stop sends SIGTERM and wants a clean exit within the 5 s the README promises.
func (tr *tracker) stop(t *testing.T) {
	t.Helper()
	tr.signal(t, syscall.SIGTERM)
	select {
	case <-tr.exited:
	case <-time.After(5 * time.Second):
		t.Fatalf("swarmlight still running 5 s after SIGTERM; its log:\n%s", tr.log)
	}
	if tr.err != nil {
		t.Fatalf("swarmlight stopped with %v; its log:\n%s", tr.err, tr.log)
	}
}

// fill is one run of `swarmload fill`.
type fill struct {
	cmd     *exec.Cmd
	started time.Time
	out     syncBuffer
	done    chan struct{}
	err     error
	result  fillResult
}

type fillResult struct {
	announces, answered, failed, resent int64
	seconds, rate                       float64
}

// The line swarmload fill ends with (cmd/swarmload printResult).
var fillLine = regexp.MustCompile(`announces (\d+), answered (\d+), failed (\d+), resent (\d+), in ([0-9.]+) s: ([0-9.]+) announces/s`)

func parseFill(out string) (fillResult, error) {
	m := fillLine.FindStringSubmatch(out)
	if m == nil {
		return fillResult{}, fmt.Errorf("soak: no result line in swarmload's output:\n%s", out)
	}
	var r fillResult
	for i, p := range []*int64{&r.announces, &r.answered, &r.failed, &r.resent} {
		*p, _ = strconv.ParseInt(m[i+1], 10, 64)
	}
	r.seconds, _ = strconv.ParseFloat(m[5], 64)
	r.rate, _ = strconv.ParseFloat(m[6], 64)
	return r, nil
}

// startFill starts swarmload fill against target in the background: peers 0..P-1
// over torrents 0..T-1, bounded by limit.
func startFill(t *testing.T, target netip.AddrPort, torrents, peers int, limit time.Duration) *fill {
	t.Helper()
	f, err := launchFill(target, torrents, peers, limit)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		f.cmd.Process.Kill()
		<-f.done
	})
	return f
}

// launchFill is startFill for a goroutine of its own, which must not end the test.
func launchFill(target netip.AddrPort, torrents, peers int, limit time.Duration) (*fill, error) {
	f := &fill{done: make(chan struct{})}
	f.cmd = exec.Command(swarmloadBin, "fill", "--target", target.String(),
		"--torrents", strconv.Itoa(torrents), "--peers", strconv.Itoa(peers), "--timeout", limit.String())
	f.cmd.Stdout, f.cmd.Stderr = &f.out, &f.out
	if err := f.cmd.Start(); err != nil {
		return nil, fmt.Errorf("soak: start swarmload: %w", err)
	}
	f.started = time.Now()
	go func() {
		defer close(f.done)
		werr := f.cmd.Wait()
		var ee *exec.ExitError
		// Status 1 with a result line is a fill with failures, which the
		// checks count; anything else is the tool failing.
		f.result, f.err = parseFill(f.out.String())
		if werr != nil && !(errors.As(werr, &ee) && ee.ExitCode() == 1 && f.err == nil) {
			f.err = fmt.Errorf("soak: swarmload: %w\n%s", werr, f.out.String())
		}
	}()
	return f, nil
}

// wait waits for the fill to end, up to limit.
func (f *fill) wait(t *testing.T, limit time.Duration) fillResult {
	t.Helper()
	r, err := f.finish(limit)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// finish is wait for a goroutine of its own.
func (f *fill) finish(limit time.Duration) (fillResult, error) {
	select {
	case <-f.done:
	case <-time.After(limit):
		f.cmd.Process.Kill()
		<-f.done
		return f.result, fmt.Errorf("soak: swarmload fill still running after %v; killed", limit)
	}
	return f.result, f.err
}

// freePort finds a port free for both TCP and UDP on 127.0.0.1.
func freePort(t *testing.T) uint16 {
	t.Helper()
	for range 20 {
		ln, err := net.Listen("tcp4", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := ln.Addr().(*net.TCPAddr).Port
		pc, err := net.ListenPacket("udp4", fmt.Sprintf("127.0.0.1:%d", port))
		ln.Close()
		if err == nil {
			pc.Close()
			return uint16(port)
		}
	}
	t.Fatal("soak: no port free for both TCP and UDP after 20 tries")
	return 0
}

// cleanEnv is the environment without SWARMLIGHT_* settings, which would change
// the tracker under test.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "SWARMLIGHT_") {
			env = append(env, kv)
		}
	}
	return env
}

// syncBuffer is a log that the process writes and the test reads at once, kept to
// its last 8 MiB.
type syncBuffer struct {
	mu sync.Mutex
	b  []byte
}

const logKeep = 8 << 20

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.b = append(s.b, p...)
	if over := len(s.b) - logKeep; over > 0 {
		s.b = append(s.b[:0], s.b[over:]...)
	}
	return len(p), nil
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return string(s.b)
}

// countMessages counts the log's lines by message (slog's text format: msg=...),
// so that a storm of identical lines is reported as one count.
func countMessages(log string) map[string]int {
	counts := map[string]int{}
	sc := bufio.NewScanner(strings.NewReader(log))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if m := msgField.FindStringSubmatch(sc.Text()); m != nil {
			msg := m[2]
			if m[1] != "" {
				msg, _ = strconv.Unquote(m[1])
			}
			counts[msg]++
		}
	}
	return counts
}

var msgField = regexp.MustCompile(`\bmsg=(?:("(?:[^"\\]|\\.)*")|(\S+))`)
