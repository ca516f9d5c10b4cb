package appliance_test

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestOneHostCannotCrowdOut floods the real tracker over UDP from one loopback
// address with ten times max_torrents random info-hashes and ten times its peer
// quota, then checks that another host can still create a torrent and join a swarm,
// that a swarm made before the flood still answers, and that the store stayed
// within its budget and caps.
func TestOneHostCannotCrowdOut(t *testing.T) {
	const maxTorrents, newTorrentQuota, peerQuota = 1000, 100, 200
	cfg := defaultConfig(t)
	cfg.UDP.Listen = []string{"127.0.0.1:0"}
	cfg.Swarm.MaxTorrents = maxTorrents
	cfg.Swarm.SourceMaxNewTorrents = newTorrentQuota
	cfg.Swarm.SourceMaxPeers = peerQuota
	cfg.Swarm.MaxMemory = 8 << 20
	r := start(t, cfg)
	addr := strings.TrimSuffix(strings.TrimPrefix(r.urls[0], "udp://"), "/announce")

	before := dialTracker(t, "127.0.0.2", addr)
	var old [20]byte
	copy(old[:], "swarm made before it")
	var target [20]byte
	copy(target[:], "swarm the flood joins")
	for _, h := range [][20]byte{old, target} {
		if _, err := before.announce(h, 6881, 0); err != nil {
			t.Fatalf("before the flood: %v", err)
		}
	}

	flood := dialTracker(t, "127.0.0.1", addr)
	var pkts [][]byte
	for range 10 * maxTorrents {
		var h [20]byte
		_, _ = rand.Read(h[:])
		pkts = append(pkts, flood.packet(h, 6881, 1))
	}
	for port := range 10 * peerQuota {
		pkts = append(pkts, flood.packet(target, uint16(10000+port), 1))
	}
	got := flood.pipeline(pkts, 32)
	t.Logf("flood of %d announces: %v", len(pkts), got)
	// Each torrent it made holds one of its peer entries: the peer quota is
	// all that is stored.
	if got["ok"] != peerQuota {
		t.Errorf("%d flood announces stored, want the peer quota's %d", got["ok"], peerQuota)
	}
	if got["too many new torrents from your address; try again later"] == 0 || got["too many peers from your address"] == 0 {
		t.Errorf("the quotas did not refuse the flood: %v", got)
	}

	other := dialTracker(t, "127.0.0.3", addr)
	var fresh [20]byte
	copy(fresh[:], "a new torrent, after")
	if _, err := other.announce(fresh, 7000, 1); err != nil {
		t.Errorf("another host cannot create a torrent: %v", err)
	}
	peers, err := other.announce(old, 7001, 1)
	if err != nil {
		t.Errorf("another host cannot join a swarm: %v", err)
	}
	if want := []byte{127, 0, 0, 2, 6881 >> 8, 6881 & 0xff}; string(peers) != string(want) {
		t.Errorf("the swarm made before the flood answers %v, want its seeder %v", peers, want)
	}
	if _, err := other.announce(target, 7002, 1); err != nil {
		t.Errorf("another host cannot join the swarm the flood filled: %v", err)
	}

	if err := r.stop(); err != nil {
		t.Fatal(err)
	}
	memory, torrents := lastStat(t, r.logs.String(), "memory"), lastStat(t, r.logs.String(), "torrents")
	if memory <= 0 || memory > cfg.Swarm.MaxMemory || torrents > maxTorrents {
		t.Errorf("store holds %d bytes (budget %d) and %d torrents (cap %d)", memory, cfg.Swarm.MaxMemory, torrents, maxTorrents)
	}
}

// lastStat is the value of key in the last stats line logged.
func lastStat(t *testing.T, logs, key string) int64 {
	t.Helper()
	m := regexp.MustCompile(`msg=stats .*\b`+key+`=(\d+)`).FindAllStringSubmatch(logs, -1)
	if len(m) == 0 {
		t.Fatalf("no %s in a stats log line:\n%s", key, logs)
	}
	n, _ := strconv.ParseInt(m[len(m)-1][1], 10, 64)
	return n
}

// udpTracker is a BEP 15 client bound to one loopback address: the source the
// tracker sees.
type udpTracker struct {
	t    *testing.T
	c    *net.UDPConn
	id   []byte
	tx   uint32
	buf  []byte
	from string
}

func dialTracker(t *testing.T, src, tracker string) *udpTracker {
	t.Helper()
	c, err := net.DialUDP("udp", &net.UDPAddr{IP: net.ParseIP(src)}, net.UDPAddrFromAddrPort(netip.MustParseAddrPort(tracker)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	u := &udpTracker{t: t, c: c, buf: make([]byte, 2048), from: src}
	connect := binary.BigEndian.AppendUint64(nil, 0x41727101980)
	connect = binary.BigEndian.AppendUint64(connect, 0)
	reply, err := u.ask(connect)
	if err != nil || len(reply) < 16 {
		t.Fatalf("connect from %s: %v %x", src, err, reply)
	}
	u.id = append([]byte(nil), reply[8:16]...)
	return u
}

// packet is an announce of hash for this host's port; left 0 is a seeder.
func (u *udpTracker) packet(hash [20]byte, port uint16, left int64) []byte {
	u.tx++
	p := append([]byte(nil), u.id...)
	p = binary.BigEndian.AppendUint32(p, 1)
	p = binary.BigEndian.AppendUint32(p, u.tx)
	p = append(p, hash[:]...)
	p = append(p, "-SL0001-floodfloodfl"...)
	p = binary.BigEndian.AppendUint64(p, 0)
	p = binary.BigEndian.AppendUint64(p, uint64(left))
	p = binary.BigEndian.AppendUint64(p, 0)
	p = binary.BigEndian.AppendUint32(p, 2) // started
	p = binary.BigEndian.AppendUint32(p, 0)
	p = binary.BigEndian.AppendUint32(p, 0)
	p = binary.BigEndian.AppendUint32(p, 50)
	return binary.BigEndian.AppendUint16(p, port)
}

func (u *udpTracker) ask(pkt []byte) ([]byte, error) {
	if _, err := u.c.Write(pkt); err != nil {
		return nil, err
	}
	_ = u.c.SetReadDeadline(time.Now().Add(2 * time.Second))
	n, err := u.c.Read(u.buf)
	return u.buf[:n], err
}

// announce returns the compact peers, or the tracker's refusal as an error.
func (u *udpTracker) announce(hash [20]byte, port uint16, left int64) ([]byte, error) {
	reply, err := u.ask(u.packet(hash, port, left))
	switch {
	case err != nil:
		return nil, err
	case len(reply) >= 8 && binary.BigEndian.Uint32(reply) == 3:
		return nil, errors.New(string(reply[8:]))
	case len(reply) < 20 || binary.BigEndian.Uint32(reply) != 1:
		return nil, errors.New("not an announce reply")
	}
	return reply[20:], nil
}

// pipeline sends pkts with at most window unanswered, and counts the replies:
// "ok" for an announce answered, the failure reason for a refusal, "lost" for
// packets not answered within 2 s.
func (u *udpTracker) pipeline(pkts [][]byte, window int) map[string]int {
	got := map[string]int{}
	sent, done := 0, 0
	for done < len(pkts) {
		for sent < len(pkts) && sent-done < window {
			if _, err := u.c.Write(pkts[sent]); err != nil {
				u.t.Fatal(err)
			}
			sent++
		}
		_ = u.c.SetReadDeadline(time.Now().Add(2 * time.Second))
		n, err := u.c.Read(u.buf)
		if err != nil {
			got["lost"] += sent - done
			done = sent
			continue
		}
		done++
		switch reply := u.buf[:n]; {
		case n >= 8 && binary.BigEndian.Uint32(reply) == 1:
			got["ok"]++
		case n >= 8 && binary.BigEndian.Uint32(reply) == 3:
			got[string(reply[8:])]++
		default:
			got["unreadable"]++
		}
	}
	return got
}
