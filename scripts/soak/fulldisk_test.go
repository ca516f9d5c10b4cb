//go:build soak && linux

package soak

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestFullDisk runs the tracker with its working directory, $HOME and $TMPDIR on a
// tmpfs filled to the brim, bytes and inodes, reading its configuration from
// there too: a Pi whose card is full. It must serve a fill, an HTTP announce and
// scrape, a reload and a stop as usual.
//
// That the tracker writes nothing is then shown twice. strace records every call
// that could write to a file system, anywhere, not only in the watched
// directories: none may open a file for writing, create, remove, rename or
// re-mode a name, or send data to anything but pipes, sockets and eventfds. And
// the watched directories — the full disk and /etc/swarmlight, if there is one
// — hold exactly what they held before, byte for byte, mode for mode.
func TestFullDisk(t *testing.T) {
	rec := newRecord(t, "full disk: nothing written")
	if os.Geteuid() != 0 {
		rec.skipOrFail(t, "mounting a full tmpfs needs root")
	}
	strace := needTool(t, rec, "strace", "strace")

	scratch := t.TempDir()
	full := filepath.Join(scratch, "full")
	if err := os.Mkdir(full, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mount("soak-full", full, "tmpfs", syscall.MS_NOSUID|syscall.MS_NODEV, "size=64k,nr_inodes=32,mode=0755"); err != nil {
		rec.skipOrFail(t, "mount a tmpfs: %v", err)
	}
	t.Cleanup(func() { syscall.Unmount(full, syscall.MNT_DETACH) })
	home, tmp, conf := filepath.Join(full, "home"), filepath.Join(full, "tmp"), filepath.Join(full, "swarmlight.yaml")
	for _, d := range []string{home, tmp} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(conf, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	fillToBrim(t, full)

	watched := []string{full}
	if _, err := os.Stat("/etc/swarmlight"); err == nil {
		watched = append(watched, "/etc/swarmlight")
	}
	before := snapshot(t, watched)

	run := startTraced(t, strace, full, conf, home, tmp)
	const torrents, peers = 1_000, 100_000
	res := startFill(t, run.addr, torrents, peers, 2*time.Minute).wait(t, 3*time.Minute)
	if res.failed != 0 || res.answered != peers {
		t.Fatalf("on a full disk: %d of %d announces answered, %d failed", res.answered, peers, res.failed)
	}
	c := httpClient(netip.MustParseAddr("127.0.0.81"))
	base := "http://" + run.addr.String()
	if refused, err := httpAnnounce(c, base, probeHash, 1, 6881); err != nil || refused != "" {
		t.Fatalf("HTTP announce on a full disk: %v %s", err, refused)
	}
	if n, err := httpPeers(c, base, probeHash); err != nil || n != 1 {
		t.Fatalf("HTTP scrape on a full disk: %d peers, %v", n, err)
	}
	if err := syscall.Kill(run.pid, syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitLog(t, run.tracker, "reload: configuration reloaded", 5*time.Second)
	sum := run.stop(t)
	for _, level := range []string{"level=WARN", "level=ERROR"} {
		if strings.Contains(run.log.String(), level) {
			t.Errorf("the log has a %s line on a full disk:\n%s", level, run.log)
		}
	}
	changed := diffSnapshots(before, snapshot(t, watched))
	for _, c := range changed {
		t.Errorf("changed while the tracker ran: %s", c)
	}
	var st syscall.Statfs_t
	if err := syscall.Statfs(full, &st); err != nil {
		t.Fatal(err)
	}
	t.Logf("trace: %v; paths read: %v", sum, slices.Sorted(maps.Keys(sum.reads)))
	for _, v := range sum.violation {
		t.Errorf("the tracker wrote, or tried to write, to a file: %s", v)
	}
	// The trace proves something only if it saw the tracker's files and its log.
	if sum.reads[conf] == 0 || sum.fdWrites["pipe"] == 0 {
		t.Errorf("the trace shows no read of %s or no log write (%v): it proves nothing", conf, sum)
	}

	// The control: the same tracker told to keep its simulated display as a PNG
	// in $TMPDIR tries to write, and the trace must say so.
	ctl := startTraced(t, strace, full, conf, home, tmp, "--panel.mode", "sim", "--panel.sim_png", filepath.Join(tmp, "panel.png"))
	time.Sleep(500 * time.Millisecond) // the panel draws its first page at start
	if ctlSum := ctl.stop(t); len(ctlSum.violation) == 0 {
		t.Errorf("control: a tracker writing %s/panel.png is not seen writing (%v): the trace proves nothing", tmp, ctlSum)
	} else {
		t.Logf("control: a tracker told to write its panel PNG is seen: %s", ctlSum.violation[0])
	}

	rec.add("tmpfs of 64 KiB, %d blocks and %d inodes free before and after", st.Bfree, st.Ffree)
	rec.add("fill %d announces, %d failed, %.0f announces/s; HTTP announce, scrape, reload, stop", res.announces, res.failed, res.rate)
	rec.add("strace: %d calls, %d writes to pipes, %d to sockets, %d to files or file opens for writing", sum.calls, sum.fdWrites["pipe"], sum.fdWrites["socket"], len(sum.violation))
	rec.add("%d watched directories, %d entries, %d changed", len(watched), len(before), len(changed))
	rec.add("control: a tracker told to write a PNG is caught")
	rec.count("announces", res.announces)
	rec.count("failed", res.failed)
	rec.count("faults", 1)
}

// traced is the tracker running under strace.
type traced struct {
	*tracker
	pid   int // the tracker's, not strace's
	trace string
}

// startTraced starts the tracker under strace on the full disk: its working
// directory, $HOME and $TMPDIR there, its configuration read from there.
func startTraced(t *testing.T, strace, dir, conf, home, tmp string, extra ...string) *traced {
	t.Helper()
	// The trace is written outside the watched directories, by strace.
	tracePath := filepath.Join(t.TempDir(), "trace")
	port := freePort(t)
	addr := netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 0, 1}), port)
	argv := []string{strace, "-f", "-qq", "--seccomp-bpf", "-y", "-s", "0", "-o", tracePath,
		"-e", "trace=" + strings.Join(straceSyscalls, ","), "--",
		swarmlightBin, "serve", "--config", conf, "--http.listen", addr.String(), "--udp.listen", addr.String()}
	tr := &tracker{argv: append(argv, extra...), dir: dir, addr: addr, log: &syncBuffer{}}
	for _, kv := range cleanEnv() {
		if !strings.HasPrefix(kv, "HOME=") && !strings.HasPrefix(kv, "TMPDIR=") && !strings.HasPrefix(kv, "XDG_") {
			tr.env = append(tr.env, kv)
		}
	}
	tr.env = append(tr.env, "HOME="+home, "TMPDIR="+tmp)
	tr.start(t)
	tr.waitAnswering(t, 60*time.Second)
	return &traced{tracker: tr, pid: tracee(t, tr.cmd.Process.Pid), trace: tracePath}
}

// stop stops the tracker, wants a clean exit, and reads the trace.
func (tr *traced) stop(t *testing.T) traceSummary {
	t.Helper()
	if err := syscall.Kill(tr.pid, syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-tr.exited:
	case <-time.After(10 * time.Second):
		t.Fatalf("swarmlight still running 10 s after SIGTERM; its log:\n%s", tr.log)
	}
	if tr.err != nil {
		t.Fatalf("swarmlight under strace ended with %v; its log:\n%s", tr.err, tr.log)
	}
	f, err := os.Open(tr.trace)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sum, err := summarize(f)
	if err != nil {
		t.Fatal(err)
	}
	return sum
}

// needTool finds a tool, installing its Debian package when root can; without it
// the check is skipped, or fails under CI=true.
func needTool(t *testing.T, rec *record, tool, pkg string) string {
	t.Helper()
	if p, err := exec.LookPath(tool); err == nil {
		return p
	}
	if os.Geteuid() == 0 {
		if _, err := exec.LookPath("apt-get"); err == nil {
			t.Logf("installing %s (for %s)", pkg, tool)
			install := exec.Command("apt-get", "install", "-y", "--no-install-recommends", pkg)
			install.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
			if out, err := install.CombinedOutput(); err != nil {
				t.Logf("apt-get install %s: %v\n%s", pkg, err, out)
			}
		}
	}
	p, err := exec.LookPath(tool)
	if err != nil {
		rec.skipOrFail(t, "%s is missing (apt-get install %s)", tool, pkg)
	}
	return p
}

// fillToBrim fills dir's file system: data until ENOSPC, then empty files until no
// inode is left, and checks that not one more byte or name fits.
func fillToBrim(t *testing.T, dir string) {
	t.Helper()
	f, err := os.Create(filepath.Join(dir, "ballast"))
	if err != nil {
		t.Fatal(err)
	}
	chunk := make([]byte, 4096)
	for i := 0; ; i++ {
		if _, err := f.Write(chunk); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatal(err)
			}
			break
		}
		if i > 1<<16 {
			t.Fatal("the tmpfs never filled")
		}
	}
	// The last partial write may have left a page's tail: fill it byte by byte.
	for i := 0; i < 4096; i++ {
		if _, err := f.Write(chunk[:1]); err != nil {
			break
		}
	}
	f.Close()
	for i := 0; ; i++ {
		g, err := os.Create(filepath.Join(dir, "inode-"+strconv.Itoa(i)))
		if err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatal(err)
			}
			break
		}
		g.Close()
		if i > 1<<10 {
			t.Fatal("the tmpfs never ran out of inodes")
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "one-more"), []byte{1}, 0o644); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("a new file on the full tmpfs: %v, want ENOSPC", err)
	}
	g, err := os.OpenFile(filepath.Join(dir, "ballast"), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	if _, err := g.Write(chunk[:1]); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("one more byte on the full tmpfs: %v, want ENOSPC", err)
	}
}

// snapshot lists every entry under roots with its type, mode, size, modification
// time and, for files, the SHA-256 of the content.
func snapshot(t *testing.T, roots []string) map[string]string {
	t.Helper()
	snap := map[string]string{}
	for _, root := range roots {
		err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			info, err := d.Info()
			if err != nil {
				return err
			}
			line := fmt.Sprintf("%v %d %d", info.Mode(), info.Size(), info.ModTime().UnixNano())
			if info.Mode().IsRegular() {
				b, err := os.ReadFile(path)
				if err != nil {
					return err
				}
				h := sha256.Sum256(b)
				line += " " + hex.EncodeToString(h[:8])
			}
			snap[path] = line
			return nil
		})
		if err != nil {
			t.Fatalf("soak: listing %s: %v", root, err)
		}
	}
	return snap
}

func diffSnapshots(before, after map[string]string) []string {
	var out []string
	for _, p := range slices.Sorted(maps.Keys(before)) {
		switch a, ok := after[p]; {
		case !ok:
			out = append(out, p+": removed")
		case a != before[p]:
			out = append(out, fmt.Sprintf("%s: %s, was %s", p, a, before[p]))
		}
	}
	for _, p := range slices.Sorted(maps.Keys(after)) {
		if _, ok := before[p]; !ok {
			out = append(out, p+": created")
		}
	}
	return out
}

// tracee is the process strace started: its only child.
func tracee(t *testing.T, stracePID int) int {
	t.Helper()
	path := fmt.Sprintf("/proc/%d/task/%d/children", stracePID, stracePID)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(string(b))
	if len(f) != 1 {
		t.Fatalf("strace has children %q, want the tracker alone", f)
	}
	pid, err := strconv.Atoi(f[0])
	if err != nil {
		t.Fatal(err)
	}
	return pid
}

// waitLog waits until the tracker's log has msg.
func waitLog(t *testing.T, tr *tracker, msg string, limit time.Duration) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for countMessages(tr.log.String())[msg] == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("no %q in the log after %v:\n%s", msg, limit, tr.log)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
