package main

import (
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// tracker is a tracker process this tool started and will stop.
type tracker struct {
	name    string // "swarmlight" or "opentracker"
	cmd     *exec.Cmd
	cmdline string
	udp     netip.AddrPort
	http    string // host:port of its HTTP front
	dir     string // scratch directory, removed on stop
	exited  chan struct{}
	waitErr error
	stderr  *tailBuffer
}

func (t *tracker) pid() int { return t.cmd.Process.Pid }

// launcher starts trackers of one kind.
type launcher interface {
	name() string
	// start starts a fresh tracker that will be sent announces for torrents
	// 0..torrents-1.
	start(torrents int) (*tracker, error)
	// lastCmdline is the command line of the last tracker started, for the record.
	lastCmdline() string
}

// pinning runs a tracker under taskset on one CPU; cpu < 0 leaves it unpinned.
type pinning struct {
	taskset string
	cpu     int
}

func (p pinning) wrap(argv []string) []string {
	if p.cpu < 0 || p.taskset == "" {
		return argv
	}
	return append([]string{p.taskset, "-c", strconv.Itoa(p.cpu)}, argv...)
}

// swarmlightLauncher starts the swarmlight binary with its caps raised so that no
// load is refused, using only the flags its help lists.
type swarmlightLauncher struct {
	bin   string
	pin   pinning
	caps  []string
	notes []string // caps left at their defaults
	last  string
}

func newSwarmlight(bin string, pin pinning) (*swarmlightLauncher, error) {
	out, err := exec.Command(bin, "help").Output()
	if err != nil {
		return nil, fmt.Errorf("swarmload: %s help: %w", bin, err)
	}
	flags := parseHelpFlags(string(out))
	for _, need := range []string{"udp.listen", "http.listen", "tracker.full_scrape"} {
		if _, ok := flags[need]; !ok {
			return nil, fmt.Errorf("swarmload: %s help lists no --%s: not a swarmlight binary?", bin, need)
		}
	}
	caps, notes := capArgs(flags)
	return &swarmlightLauncher{bin: bin, pin: pin, caps: caps, notes: notes}, nil
}

func (l *swarmlightLauncher) name() string        { return "swarmlight" }
func (l *swarmlightLauncher) lastCmdline() string { return l.last }

// Caps generous enough for the largest load, the same for every load so that no
// load runs a differently configured tracker. Binaries that lack a cap's flag
// simply do not get it.
var generousCaps = map[string]int64{
	"swarm.max_torrents":            4_000_000,
	"swarm.max_peers":               16_000_000,
	"swarm.max_peers_per_torrent":   1_000_000,
	"swarm.max_memory":              64 << 30,
	"swarm.source_max_new_torrents": 16_000_000,
	"swarm.source_max_peers":        16_000_000,
}

// capArgs picks the flags for every cap this binary has. A cap whose help says 0
// turns it off gets 0; any other gets a generous number, cut to the top of the
// range its help states. notes says which caps could not be raised.
func capArgs(flags map[string]helpFlag) (args, notes []string) {
	for _, name := range slices.Sorted(maps.Keys(generousCaps)) {
		f, ok := flags[name]
		if !ok {
			continue
		}
		v := generousCaps[name]
		switch {
		case zeroIsOff.MatchString(f.doc):
			v = 0
		case f.typ == "size":
			// A byte count without a unit is a size too. The top of a 32-bit
			// build's range is 2 GiB, still far above any load here.
			if strconv.IntSize == 32 {
				v = min(v, 2<<30)
			}
		case !strings.HasPrefix(f.typ, "int") && !strings.HasPrefix(f.typ, "uint"):
			notes = append(notes, fmt.Sprintf("--%s (%s) left at its default: not a number this tool knows how to raise", name, f.typ))
			continue
		default:
			if m := rangeRE.FindStringSubmatch(f.doc); m != nil {
				if hi, err := strconv.ParseInt(m[2], 10, 64); err == nil {
					v = min(v, hi)
				}
			}
		}
		args = append(args, "--"+name, strconv.FormatInt(v, 10))
	}
	return args, notes
}

var (
	zeroIsOff = regexp.MustCompile(`(?i)\b0\b[^.;]*\b(off|no limit|none|unlimited|disables?|turns it off|without)\b`)
	rangeRE   = regexp.MustCompile(`\((\d+) to (\d+)\)`)
)

// helpFlag is one flag as `swarmlight help` lists it.
type helpFlag struct{ typ, doc string }

var helpLine = regexp.MustCompile(`^\s+(?:-\w, )?--([A-Za-z0-9_.\-]+)(?: ([A-Za-z0-9]+))?\s{2,}(.*)$`)

func parseHelpFlags(help string) map[string]helpFlag {
	flags := make(map[string]helpFlag)
	for line := range strings.Lines(help) {
		if m := helpLine.FindStringSubmatch(strings.TrimRight(line, "\n")); m != nil {
			flags[m[1]] = helpFlag{typ: m[2], doc: m[3]}
		}
	}
	return flags
}

func (l *swarmlightLauncher) start(int) (*tracker, error) {
	dir, err := os.MkdirTemp("", "swarmload-swarmlight-")
	if err != nil {
		return nil, fmt.Errorf("swarmload: scratch directory: %w", err)
	}
	// An empty config file: without one, a swarmlight.yaml in /etc/swarmlight or
	// ./configs would change what is measured.
	conf := filepath.Join(dir, "swarmlight.yaml")
	if err := os.WriteFile(conf, nil, 0o644); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("swarmload: config: %w", err)
	}
	port, err := freePort()
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	addr := netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 0, 1}), port)
	argv := []string{l.bin, "serve", "--config", conf, "--panel.mode", "off",
		"--udp.listen", addr.String(), "--http.listen", addr.String(),
		"--tracker.full_scrape=true"}
	argv = append(argv, l.caps...)
	t := &tracker{name: "swarmlight", udp: addr, http: addr.String(), dir: dir}
	err = t.launch(l.pin.wrap(argv), nil)
	l.last = t.cmdline
	return t, err
}

// opentrackerLauncher starts Debian's opentracker, which is built whitelist-only:
// each start gets a whitelist of exactly the load's info-hashes.
type opentrackerLauncher struct {
	bin  string
	pin  pinning
	last string
}

func (l *opentrackerLauncher) name() string        { return "opentracker" }
func (l *opentrackerLauncher) lastCmdline() string { return l.last }

func (l *opentrackerLauncher) start(torrents int) (*tracker, error) {
	dir, err := os.MkdirTemp("", "swarmload-opentracker-")
	if err != nil {
		return nil, fmt.Errorf("swarmload: scratch directory: %w", err)
	}
	// Started as root, opentracker chroots into its directory and becomes nobody,
	// who must still read the whitelist.
	if err := os.Chmod(dir, 0o755); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("swarmload: scratch directory: %w", err)
	}
	// The probe announces torrent 0, so even an idle tracker whitelists one hash.
	if err := writeWhitelist(filepath.Join(dir, "whitelist.txt"), max(torrents, 1)); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	addr := netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 0, 1}), port)
	conf := fmt.Sprintf("listen.tcp_udp %s\naccess.whitelist whitelist.txt\ntracker.rootdir %s\n", addr, dir)
	confPath := filepath.Join(dir, "opentracker.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("swarmload: opentracker config: %w", err)
	}
	t := &tracker{name: "opentracker", udp: addr, http: addr.String(), dir: dir}
	err = t.launch(l.pin.wrap([]string{l.bin, "-f", confPath}), nil)
	l.last = t.cmdline + "  # " + strings.ReplaceAll(strings.TrimSpace(conf), "\n", "; ")
	return t, err
}

// launch starts the process and waits until it answers announces.
func (t *tracker) launch(argv, env []string) error {
	t.cmdline = shellJoin(argv)
	t.cmd = exec.Command(argv[0], argv[1:]...)
	t.cmd.Env = append(cleanEnv(), env...)
	t.cmd.Dir = t.dir
	t.stderr = &tailBuffer{max: 16 << 10}
	t.cmd.Stdout = io.Discard
	t.cmd.Stderr = t.stderr
	if err := t.cmd.Start(); err != nil {
		os.RemoveAll(t.dir)
		return fmt.Errorf("swarmload: start %s: %w", t.name, err)
	}
	t.exited = make(chan struct{})
	go func() {
		t.waitErr = t.cmd.Wait()
		close(t.exited)
	}()
	if err := t.waitReady(60 * time.Second); err != nil {
		t.stop()
		return err
	}
	return nil
}

// waitReady probes until an announce is answered with counts: for opentracker
// that is also when its whitelist has been read, which it does in the
// background after it starts listening.
func (t *tracker) waitReady(limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		err := probe(t.udp, 200*time.Millisecond)
		if err == nil {
			return nil
		}
		select {
		case <-t.exited:
			return fmt.Errorf("swarmload: %s exited before answering (%v); its stderr:\n%s", t.name, t.waitErr, t.stderr)
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("swarmload: %s not answering announces after %v: %w", t.name, limit, err)
		}
	}
}

// probePeer numbers the probe's peer id, far from any load's peers.
const probePeer = 999_999_999

// probe announces one peer outside every load (127.0.0.1, port 1) to torrent 0 and
// then withdraws it with event stopped, leaving the tracker as it was.
func probe(target netip.AddrPort, wait time.Duration) error {
	conn, err := net.DialUDP("udp4", nil, net.UDPAddrFromAddrPort(target))
	if err != nil {
		return fmt.Errorf("swarmload: probe: %w", err)
	}
	defer conn.Close()
	buf := make([]byte, 2048)
	ask := func(pkt []byte) (reply, error) {
		conn.SetDeadline(time.Now().Add(wait))
		if _, err := conn.Write(pkt); err != nil {
			return reply{}, err
		}
		n, err := conn.Read(buf)
		if err != nil {
			return reply{}, err
		}
		return parseReply(buf[:n])
	}
	r, err := ask(appendConnect(nil, 1))
	if err != nil {
		return fmt.Errorf("swarmload: probe: connect: %w", err)
	}
	id, err := r.connID()
	if err != nil {
		return err
	}
	h := infoHash(0)
	a := announce{connID: id, tx: 2, hash: &h, peer: probePeer, left: 1, event: eventStarted, numWant: 0, port: 1}
	pkt := make([]byte, announceLen)
	putAnnounce(pkt, &a)
	if r, err = ask(pkt); err != nil {
		return fmt.Errorf("swarmload: probe: announce: %w", err)
	}
	if r.action != actionAnnounce || len(r.body)+8 < announceReplyLen {
		return fmt.Errorf("swarmload: probe: announce not accepted (action %d, %d bytes)", r.action, len(r.body)+8)
	}
	a.tx, a.event = 3, eventStopped
	putAnnounce(pkt, &a)
	if _, err := ask(pkt); err != nil {
		return fmt.Errorf("swarmload: probe: stop: %w", err)
	}
	return nil
}

// alive returns an error naming during what the tracker died, if it did, with the
// last line it wrote (a crash message; never a peer's data, which neither tracker
// writes).
func (t *tracker) alive(during string) error {
	select {
	case <-t.exited:
	default:
		return nil
	}
	last := strings.TrimSpace(t.stderr.String())
	if i := strings.LastIndexByte(last, '\n'); i >= 0 {
		last = last[i+1:]
	}
	return fmt.Errorf("%s died during %s (%v): %q", t.name, during, t.waitErr, last)
}

// stop ends the tracker, gently first, and removes its scratch directory.
func (t *tracker) stop() {
	defer os.RemoveAll(t.dir)
	if t.cmd == nil || t.cmd.Process == nil {
		return
	}
	t.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-t.exited:
	case <-time.After(10 * time.Second):
		t.cmd.Process.Kill()
		<-t.exited
	}
}

// fullScrape asks the HTTP front for every torrent and reads the answer to the
// end, returning its size.
func (t *tracker) fullScrape(limit time.Duration) (int64, error) {
	c := &http.Client{Timeout: limit}
	resp, err := c.Get("http://" + t.http + "/scrape")
	if err != nil {
		return 0, fmt.Errorf("swarmload: full scrape: %w", err)
	}
	defer resp.Body.Close()
	n, err := io.Copy(io.Discard, resp.Body)
	if err != nil {
		return n, fmt.Errorf("swarmload: full scrape: reading the body: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return n, fmt.Errorf("swarmload: full scrape: HTTP status %d", resp.StatusCode)
	}
	return n, nil
}

// freePort finds a port free for both UDP and TCP on 127.0.0.1. Another process
// could take it before the tracker binds it; the tracker then fails to start and
// says so.
func freePort() (uint16, error) {
	for range 20 {
		ln, err := net.Listen("tcp4", "127.0.0.1:0")
		if err != nil {
			return 0, fmt.Errorf("swarmload: free port: %w", err)
		}
		port := ln.Addr().(*net.TCPAddr).Port
		pc, err := net.ListenPacket("udp4", fmt.Sprintf("127.0.0.1:%d", port))
		ln.Close()
		if err == nil {
			pc.Close()
			return uint16(port), nil
		}
	}
	return 0, errors.New("swarmload: free port: none free for both TCP and UDP after 20 tries")
}

// cleanEnv is this process's environment without SWARMLIGHT_* settings, which
// would change the tracker under test.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "SWARMLIGHT_") {
			env = append(env, kv)
		}
	}
	return env
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	b   []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if over := len(t.b) - t.max; over > 0 {
		t.b = append(t.b[:0], t.b[over:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.b)
}

// shellJoin writes argv as a command line that a shell would split back into it.
func shellJoin(argv []string) string {
	var b strings.Builder
	for i, a := range argv {
		if i > 0 {
			b.WriteByte(' ')
		}
		if a != "" && strings.Trim(a, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./:=,@+%") == "" {
			b.WriteString(a)
			continue
		}
		b.WriteString("'" + strings.ReplaceAll(a, "'", `'\''`) + "'")
	}
	return b.String()
}
