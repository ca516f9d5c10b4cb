//go:build linux

package appliance_test

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/anacrolix/torrent/bencode"
	"golang.org/x/sys/unix"
)

// TestLinkLocalClients: a client on another host of the link, which reaches the
// tracker by its fe80:: address, is served over HTTP and over UDP when fe80::/10
// is allowed (as by default), and refused by both when it is not. The other host
// is a network namespace joined to this one by a veth pair, so the tracker sees
// what it sees on a Pi with eth0 and wlan0: a link-local source on one of several
// links, every one of them with its own fe80::/64 route.
func TestLinkLocalClients(t *testing.T) {
	link := newLinkPeer(t)
	for _, tc := range []struct {
		name    string
		allowed []string // nil: the default networks
		refused bool
	}{
		{"default networks", nil, false},
		{"fe80::/10 not allowed", []string{"127.0.0.0/8", "::1/128", "fc00::/7"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := defaultConfig(t)
			if tc.allowed != nil {
				cfg.Tracker.AllowedNetworks = nil
				for _, p := range tc.allowed {
					cfg.Tracker.AllowedNetworks = append(cfg.Tracker.AllowedNetworks, netip.MustParsePrefix(p))
				}
			}
			// Each front on the wildcard, as shipped, in a tracker of its own: the
			// wildcard prints one URL per address of this host, and the port is
			// all this test needs of them.
			httpCfg, udpCfg := cfg, cfg
			httpCfg.HTTP.Listen = []string{"[::]:0"}
			udpCfg.UDP.Listen = []string{"[::]:0"}
			httpAt := netip.AddrPortFrom(link.tracker, portOf(t, start(t, httpCfg).urls[0]))
			udpAt := netip.AddrPortFrom(link.tracker, portOf(t, start(t, udpCfg).urls[0]))
			// The client's own address as the tracker must store it: no zone.
			self := link.client.WithZone("")

			var httpReplies, udpReplies [2]linkReply
			link.do(t, func() {
				for i, port := range []uint16{6881, 6882} {
					httpReplies[i] = httpAnnounce(httpAt, port)
					udpReplies[i] = udpAnnounce(udpAt, port)
				}
			})
			for front, replies := range map[string][2]linkReply{"http": httpReplies, "udp": udpReplies} {
				first, second := replies[0], replies[1]
				if tc.refused {
					if !strings.Contains(first.failure, "not allowed") && !strings.HasPrefix(first.failure, "your net") {
						t.Errorf("%s: reply %+v, want a refusal", front, first)
					}
					continue
				}
				if first.failure != "" || second.failure != "" {
					t.Fatalf("%s: refused a link-local client: %q %q", front, first.failure, second.failure)
				}
				want := []netip.AddrPort{netip.AddrPortFrom(self, 6881)}
				if len(second.peers) != 1 || second.peers[0] != want[0] {
					t.Errorf("%s: second announce got peers %v, want %v", front, second.peers, want)
				}
				if front == "http" && first.external != self {
					t.Errorf("http: external ip %v, want %v", first.external, self)
				}
			}
		})
	}
}

// linkPeer is another host on a link of this one: a network namespace with one
// end of a veth pair, whose other end is here.
type linkPeer struct {
	ns      string
	tracker netip.Addr // this end's link-local address, zoned as the client dials it
	client  netip.Addr // the other end's, zoned with this end's name as the tracker sees it
}

// newLinkPeer makes the namespace and the link, and removes them when the test
// ends. It needs root and iproute2; without them it skips, except under CI=true.
func newLinkPeer(t *testing.T) *linkPeer {
	t.Helper()
	unavailable := func(why string) {
		t.Helper()
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s; CI=true makes this a failure", why)
		}
		t.Skip(why)
	}
	if os.Geteuid() != 0 {
		unavailable("needs root to make a network namespace and a veth pair")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		unavailable("ip not found (apt-get install iproute2)")
	}
	// Names are unique per test process, so that packages tested at once do not
	// collide; an interface name has at most 15 bytes.
	id := os.Getpid() % 1_000_000
	l := &linkPeer{ns: fmt.Sprintf("swl-ll-%d", id)}
	here, there := fmt.Sprintf("swlll%d", id), "ll0"
	if out, err := exec.Command("ip", "netns", "add", l.ns).CombinedOutput(); err != nil {
		unavailable(fmt.Sprintf("cannot make a network namespace: %v: %s", err, out))
	}
	t.Cleanup(func() {
		_ = exec.Command("ip", "link", "del", here).Run()
		_ = exec.Command("ip", "netns", "del", l.ns).Run()
	})
	// Duplicate address detection would hold each address back for a second or
	// more; on a link of two fresh interfaces there is nothing to detect.
	for _, cmd := range [][]string{
		{"ip", "link", "add", here, "type", "veth", "peer", "name", there, "netns", l.ns},
		{"sh", "-c", "echo 0 >/proc/sys/net/ipv6/conf/" + here + "/accept_dad"},
		{"ip", "netns", "exec", l.ns, "sh", "-c", "echo 0 >/proc/sys/net/ipv6/conf/" + there + "/accept_dad"},
		{"ip", "link", "set", here, "up"},
		{"ip", "-n", l.ns, "link", "set", there, "up"},
	} {
		if out, err := exec.Command(cmd[0], cmd[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%s: %v: %s", strings.Join(cmd, " "), err, out)
		}
	}
	a, err := linkLocalOf(here)
	if err != nil {
		t.Fatal(err)
	}
	l.tracker = a.WithZone(there)
	l.do(t, func() {
		a, err := linkLocalOf(there)
		if err != nil {
			panic(err)
		}
		l.client = a.WithZone(here)
	})
	return l
}

// do runs fn on a thread inside the peer's namespace, so that the sockets fn opens
// are the other host's. The thread is left locked, and so is discarded when fn
// returns rather than going back to serve the rest of the process. fn reports a
// failure by panicking: t.Fatal cannot end a test from another goroutine.
func (l *linkPeer) do(t *testing.T, fn func()) {
	t.Helper()
	done := make(chan string, 1)
	go func() {
		runtime.LockOSThread()
		defer func() {
			if v := recover(); v != nil {
				done <- fmt.Sprint(v)
			}
		}()
		f, err := os.Open("/run/netns/" + l.ns)
		if err != nil {
			done <- err.Error()
			return
		}
		defer f.Close()
		if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET); err != nil {
			done <- fmt.Sprintf("setns: %v", err)
			return
		}
		fn()
		done <- ""
	}()
	if msg := <-done; msg != "" {
		t.Fatalf("in namespace %s: %s", l.ns, msg)
	}
}

// linkLocalOf waits up to 5 s for the interface's fe80:: address.
func linkLocalOf(name string) (netip.Addr, error) {
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		ifc, err := net.InterfaceByName(name)
		if err != nil {
			continue
		}
		addrs, _ := ifc.Addrs()
		for _, a := range addrs {
			if p, err := netip.ParsePrefix(a.String()); err == nil && p.Addr().IsLinkLocalUnicast() {
				return p.Addr(), nil
			}
		}
	}
	return netip.Addr{}, fmt.Errorf("no link-local address on %s within 5 s", name)
}

func portOf(t *testing.T, announceURL string) uint16 {
	t.Helper()
	u, err := url.Parse(announceURL)
	if err != nil {
		t.Fatal(err)
	}
	var port uint16
	if _, err := fmt.Sscan(u.Port(), &port); err != nil {
		t.Fatalf("announce URL %q: %v", announceURL, err)
	}
	return port
}

// linkReply is what an announce over either front came back with.
type linkReply struct {
	failure  string
	peers    []netip.AddrPort
	external netip.Addr
}

var linkHash = [20]byte{'l', 'i', 'n', 'k', '-', 'l', 'o', 'c', 'a', 'l'}

// httpAnnounce announces port over one connection to at, made on the calling
// goroutine's thread (net/http's transport would dial on a thread of its own).
// It panics on a failure of the exchange, for linkPeer.do.
func httpAnnounce(at netip.AddrPort, port uint16) linkReply {
	c, err := net.DialTimeout("tcp", at.String(), 5*time.Second)
	if err != nil {
		panic(fmt.Sprintf("dial %v: %v", at, err))
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	q := query(string(linkHash[:]), "-LL0001-000000000001", fmt.Sprint(port), "left=1", "compact=1")
	if _, err := fmt.Fprintf(c, "GET /announce?%s HTTP/1.1\r\nHost: tracker\r\nConnection: close\r\n\r\n", q); err != nil {
		panic(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		panic(fmt.Sprintf("http reply: %v", err))
	}
	defer resp.Body.Close()
	var rr rawReply
	if err := bencode.NewDecoder(resp.Body).Decode(&rr); err != nil {
		panic(fmt.Sprintf("http reply: %v", err))
	}
	out := linkReply{failure: rr.FailureReason}
	out.external, _ = netip.AddrFromSlice(rr.ExternalIP)
	for p := rr.Peers6; len(p) >= 18; p = p[18:] {
		out.peers = append(out.peers, netip.AddrPortFrom(netip.AddrFrom16([16]byte(p[:16])), binary.BigEndian.Uint16(p[16:])))
	}
	return out
}

// udpAnnounce connects and announces port to at (BEP 15), from a socket made on
// the calling goroutine's thread. It panics on a lost reply, for linkPeer.do.
func udpAnnounce(at netip.AddrPort, port uint16) linkReply {
	c, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(at))
	if err != nil {
		panic(fmt.Sprintf("dial %v: %v", at, err))
	}
	defer c.Close()
	buf := make([]byte, 2048)
	ask := func(pkt []byte) []byte {
		if _, err := c.Write(pkt); err != nil {
			panic(err)
		}
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		n, err := c.Read(buf)
		if err != nil {
			panic(fmt.Sprintf("no UDP reply from %v: %v", at, err))
		}
		return buf[:n]
	}
	failure := func(r []byte) (string, bool) {
		if len(r) >= 8 && binary.BigEndian.Uint32(r) == 3 {
			return string(r[8:]), true
		}
		return "", false
	}
	r := ask(binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint64(nil, 0x41727101980), 1))
	if msg, ok := failure(r); ok || len(r) < 16 {
		return linkReply{failure: msg}
	}
	p := append([]byte(nil), r[8:16]...)
	p = binary.BigEndian.AppendUint32(p, 1) // announce
	p = binary.BigEndian.AppendUint32(p, 2)
	p = append(p, linkHash[:]...)
	p = append(p, "-LL0001-000000000002"...)
	p = binary.BigEndian.AppendUint64(p, 0)
	p = binary.BigEndian.AppendUint64(p, 1) // left
	p = binary.BigEndian.AppendUint64(p, 0)
	p = binary.BigEndian.AppendUint32(p, 0)
	p = binary.BigEndian.AppendUint32(p, 0) // ip: none claimed
	p = binary.BigEndian.AppendUint32(p, 0)
	p = binary.BigEndian.AppendUint32(p, 50)
	p = binary.BigEndian.AppendUint16(p, port)
	r = ask(p)
	if msg, ok := failure(r); ok || len(r) < 20 {
		return linkReply{failure: msg}
	}
	var out linkReply
	for peers := r[20:]; len(peers) >= 18; peers = peers[18:] {
		out.peers = append(out.peers, netip.AddrPortFrom(netip.AddrFrom16([16]byte(peers[:16])), binary.BigEndian.Uint16(peers[16:])))
	}
	return out
}
