//go:build linux

package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/swarmlight/swarmlight/appliance/privacytest"
)

// The peer every crash test announces as: a loopback address of its own, a port
// (chosen per run, the same for UDP, TCP and the announced port), an info-hash and
// a peer id whose bytes make distinctive words.
var (
	crashPeerAddr = netip.MustParseAddr("127.0.0.77")
	crashHash     = []byte("\x9e\x5c\x1a\xd3\x47\xc2\x8b\x6f\x31\xe4\xa9\x0d\x7b\x52\xf8\x16\xc5\x3a\x64\xbd")
	crashPeerID   = []byte("-CR0001-\x8f\xd1\x6a\x2e\xb7\x49\x05\xc3\x7e\x91\xda\x38")
)

// TestCrashOutputHoldsNoPeerData runs the real binary, streams announces to it over
// UDP and HTTP from one known peer, kills it mid-stream with SIGQUIT (a developer's
// Ctrl-\) or SIGABRT (what systemd's watchdog sends a hung tracker), and fails if
// the peer's address, port, info-hash or peer id appears in anything the process
// wrote, in any encoding, the machine words of a traceback included. The Go
// runtime answers both signals with every goroutine's stack, arguments and
// registers in hex, whatever GOTRACEBACK says; in a busy tracker those hold peer
// records. The last case is the control: with tracebacks asked for, the dump is
// there, so the first two prove it is the binary that keeps it out.
func TestCrashOutputHoldsNoPeerData(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := buildBinary(t, "v0-crash")
	tests := []struct {
		name        string
		sig         syscall.Signal
		gotraceback string
		wantDump    bool
	}{
		{"SIGQUIT", syscall.SIGQUIT, "", false},
		{"SIGABRT under the unit's GOTRACEBACK=none", syscall.SIGABRT, "none", false},
		{"control: SIGQUIT with GOTRACEBACK=all dumps", syscall.SIGQUIT, "all", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cmd := exec.Command(bin, "serve", "--config", configFile(t, "log:\n  level: debug\n"),
				"--http.listen", "127.0.0.1:0", "--udp.listen", "127.0.0.1:0", "--panel.mode", "off")
			cmd.Env = []string{"GOTRACEBACK=" + tt.gotraceback}
			p := startProc(t, cmd)
			var stdout []string
			httpURL, udpAddr := trackerURLs(t, p, &stdout)

			peer := crashPeer(t, httpURL, udpAddr)
			ctx, stop := context.WithCancel(context.Background())
			var answered atomic.Int64
			var load sync.WaitGroup
			defer func() { stop(); load.Wait() }()
			load.Go(func() { streamUDP(ctx, peer, udpAddr, &answered) })
			// Several connections: each idle one parks a goroutine whose stack
			// still holds words of the announce it served.
			for i := range 8 {
				load.Go(func() { streamHTTP(ctx, peer, i == 0, httpURL, &answered) })
			}
			// Let announces flow, then strike while they still do.
			deadline := time.Now().Add(5 * time.Second)
			for answered.Load() < 200 && time.Now().Before(deadline) {
				time.Sleep(10 * time.Millisecond)
			}
			if answered.Load() == 0 {
				t.Fatalf("no announce answered; stderr:\n%s", p.stderr)
			}
			if err := p.cmd.Process.Signal(tt.sig); err != nil {
				t.Fatal(err)
			}
			// Exit status 2 is how the runtime ends on these signals: a failure,
			// so Restart=always brings the tracker back.
			select {
			case err := <-p.exited:
				if err == nil || !strings.Contains(err.Error(), "exit status 2") {
					t.Errorf("after %v: %v, want exit status 2", tt.sig, err)
				}
			case <-time.After(10 * time.Second):
				t.Fatalf("still running 10 s after %v", tt.sig)
			}
			stop()
			load.Wait()
			for line := range p.lines {
				stdout = append(stdout, line)
			}

			out := strings.Join(stdout, "\n") + "\n" + p.stderr.String()
			dumped := strings.Contains(out, "goroutine ")
			switch {
			case tt.wantDump && !dumped:
				t.Fatalf("GOTRACEBACK=all gave no goroutine dump after %v; the control proves nothing:\n%s", tt.sig, out)
			case tt.wantDump:
				t.Logf("%d announces answered; the dump is %d bytes; peer data in it: %q",
					answered.Load(), len(out), privacytest.Find(out, peer.secrets()))
				return
			case dumped:
				t.Errorf("a goroutine dump after %v:\n%.3000s", tt.sig, out)
			}
			for _, leak := range privacytest.Find(out, peer.secrets()) {
				t.Errorf("output after %v holds peer data: %s", tt.sig, leak)
			}
			t.Logf("%d announces answered; output after %v, all of it:\n%s", answered.Load(), tt.sig, out)
		})
	}
}

// trackerURLs reads the announce URLs the binary prints, keeping every line.
func trackerURLs(t *testing.T, p *proc, lines *[]string) (httpURL, udpAddr string) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for httpURL == "" || udpAddr == "" {
		select {
		case line, ok := <-p.lines:
			if !ok {
				t.Fatalf("stdout closed before both announce URLs; stderr:\n%s", p.stderr)
			}
			*lines = append(*lines, line)
			if strings.HasPrefix(line, "http://") {
				httpURL = line
			}
			if a, ok := strings.CutPrefix(line, "udp://"); ok {
				udpAddr = strings.TrimSuffix(a, "/announce")
			}
		case err := <-p.exited:
			t.Fatalf("exited: %v; stderr:\n%s", err, p.stderr)
		case <-deadline:
			t.Fatalf("no announce URLs within 10s; stderr:\n%s", p.stderr)
		}
	}
	return httpURL, udpAddr
}

// crashTestPeer is the known peer: its UDP socket, already bound, and its port.
type crashTestPeer struct {
	udp  *net.UDPConn
	addr netip.AddrPort
}

func (c crashTestPeer) secrets() []string {
	s := privacytest.AddrPort(c.addr)
	s = append(s, privacytest.Encodings(crashHash)...)
	return append(s, privacytest.Encodings(crashPeerID)...)
}

// crashPeer binds the peer's UDP socket on a fresh port, one that is not the
// tracker's own (those are in the log, legitimately).
func crashPeer(t *testing.T, trackerURLs ...string) crashTestPeer {
	t.Helper()
	for range 10 {
		c, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(crashPeerAddr, 0)))
		if err != nil {
			t.Fatal(err)
		}
		ap := netip.MustParseAddrPort(c.LocalAddr().String())
		port := fmt.Sprint(ap.Port())
		clash := false
		for _, u := range trackerURLs {
			clash = clash || strings.Contains(u, ":"+port)
		}
		if !clash {
			t.Cleanup(func() { c.Close() })
			return crashTestPeer{udp: c, addr: ap}
		}
		c.Close()
	}
	t.Fatal("no free port unlike the tracker's")
	return crashTestPeer{}
}

// streamUDP connects and announces over and over, as the peer, until ctx is done.
func streamUDP(ctx context.Context, peer crashTestPeer, tracker string, answered *atomic.Int64) {
	to := net.UDPAddrFromAddrPort(netip.MustParseAddrPort(tracker))
	buf := make([]byte, 2048)
	ask := func(pkt []byte) []byte {
		if _, err := peer.udp.WriteToUDP(pkt, to); err != nil {
			return nil
		}
		_ = peer.udp.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
		n, _, err := peer.udp.ReadFromUDP(buf)
		if err != nil {
			return nil
		}
		return buf[:n]
	}
	var id []byte
	for tx := uint32(1); ctx.Err() == nil; tx++ {
		if id == nil {
			connect := binary.BigEndian.AppendUint64(nil, 0x41727101980)
			connect = binary.BigEndian.AppendUint32(connect, 0)
			connect = binary.BigEndian.AppendUint32(connect, tx)
			if r := ask(connect); len(r) == 16 {
				id = append([]byte(nil), r[8:16]...)
			}
			continue
		}
		pkt := append([]byte(nil), id...)
		pkt = binary.BigEndian.AppendUint32(pkt, 1) // announce
		pkt = binary.BigEndian.AppendUint32(pkt, tx)
		pkt = append(pkt, crashHash...)
		pkt = append(pkt, crashPeerID...)
		pkt = binary.BigEndian.AppendUint64(pkt, 0)      // downloaded
		pkt = binary.BigEndian.AppendUint64(pkt, 1<<20)  // left
		pkt = binary.BigEndian.AppendUint64(pkt, 0)      // uploaded
		pkt = binary.BigEndian.AppendUint32(pkt, 2)      // started
		pkt = binary.BigEndian.AppendUint32(pkt, 0)      // ip: the sender's
		pkt = binary.BigEndian.AppendUint32(pkt, 0x5ec7) // key
		pkt = binary.BigEndian.AppendUint32(pkt, 50)     // num_want
		pkt = binary.BigEndian.AppendUint16(pkt, peer.addr.Port())
		if r := ask(pkt); len(r) >= 20 && binary.BigEndian.Uint32(r) == 1 {
			answered.Add(1)
		}
	}
}

// streamHTTP announces over one keep-alive connection from the peer's address and
// port, until ctx is done.
func streamHTTP(ctx context.Context, peer crashTestPeer, samePort bool, announce string, answered *atomic.Int64) {
	local := netip.AddrPortFrom(peer.addr.Addr(), 0)
	if samePort {
		local = peer.addr
	}
	dialer := &net.Dialer{
		LocalAddr: net.TCPAddrFromAddrPort(local),
		// The port may still be in TIME_WAIT from the last run.
		Control: func(_, _ string, c syscall.RawConn) error {
			var serr error
			err := c.Control(func(fd uintptr) { serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEADDR, 1) })
			if err != nil {
				return err
			}
			return serr
		},
	}
	client := &http.Client{
		Transport: &http.Transport{DialContext: dialer.DialContext, MaxConnsPerHost: 1},
		Timeout:   2 * time.Second,
	}
	defer client.CloseIdleConnections()
	q := url.Values{
		"info_hash": {string(crashHash)}, "peer_id": {string(crashPeerID)},
		"port": {fmt.Sprint(peer.addr.Port())}, "left": {"0"}, "compact": {"1"},
	}
	u := announce + "?" + q.Encode()
	for ctx.Err() == nil {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		resp, err := client.Do(req)
		if err != nil {
			time.Sleep(20 * time.Millisecond)
			continue
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK && bytes.Contains(body, []byte("8:interval")) {
			answered.Add(1)
		}
	}
}
