package main

import (
	"encoding/binary"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeTracker answers BEP 15 on a real socket on 127.0.0.1, its announce answers
// chosen by the test: a tracker that loses, refuses or ignores requests on cue.
type fakeTracker struct {
	conn *net.UDPConn
	mu   sync.Mutex
	seen map[string]int // announces received, by source and transaction id
}

// answer is what the fake does with the n-th copy (from 1) of an announce:
// drop it (nil) or send the bytes after the action and transaction id.
type answer func(n int) []byte

func startFake(t *testing.T, connect bool, ann answer) netip.AddrPort {
	t.Helper()
	conn, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.MustParseAddrPort("127.0.0.1:0")))
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeTracker{conn: conn, seen: map[string]int{}}
	t.Cleanup(func() { conn.Close() })
	go func() {
		buf := make([]byte, 2048)
		for {
			n, from, err := conn.ReadFromUDPAddrPort(buf)
			if err != nil {
				return
			}
			p := buf[:n]
			action, tx := binary.BigEndian.Uint32(p[8:12]), binary.BigEndian.Uint32(p[12:16])
			out := binary.BigEndian.AppendUint32(nil, action)
			out = binary.BigEndian.AppendUint32(out, tx)
			switch action {
			case actionConnect:
				if !connect {
					continue
				}
				out = binary.BigEndian.AppendUint64(out, 0x1234)
			case actionAnnounce:
				key := from.String() + "/" + string(p[12:16])
				f.mu.Lock()
				f.seen[key]++
				body := ann(f.seen[key])
				f.mu.Unlock()
				if body == nil {
					continue
				}
				if len(body) >= 4 && string(body[:4]) == "err:" {
					binary.BigEndian.PutUint32(out[0:4], actionError)
					body = body[4:]
				}
				out = append(out, body...)
			}
			conn.WriteToUDPAddrPort(out, from)
		}
	}()
	return conn.LocalAddr().(*net.UDPAddr).AddrPort()
}

func counts() []byte { return make([]byte, 12) } // interval, leechers, seeders

// TestLoadFailures drives the engine against trackers that misbehave: every
// announce ends as answered or failed, with its reason, and the run ends.
func TestLoadFailures(t *testing.T) {
	tests := []struct {
		name       string
		connect    bool
		ann        answer
		tries      int
		timeout    time.Duration
		wantOK     int64
		wantResent bool
		wantReason string
	}{
		{"answers all", true, func(int) []byte { return counts() }, 2, 30 * time.Second, 1500, false, ""},
		{"loses every first copy", true, func(n int) []byte {
			if n == 1 {
				return nil
			}
			return counts()
		}, 2, 30 * time.Second, 1500, true, ""},
		{"never answers announces", true, func(int) []byte { return nil }, 2, 30 * time.Second, 0, true, "no reply after 2 tries"},
		{"refuses", true, func(int) []byte { return []byte("err:tracker is full") }, 2, 30 * time.Second, 0, false, "tracker: tracker is full"},
		{"answers without counts", true, func(int) []byte { return []byte{} }, 2, 30 * time.Second, 0, false, "not whitelisted"},
		{"never answers connect", false, nil, 2, 30 * time.Second, 0, false, "connect: no reply after 2 tries"},
		{"overall timeout", true, func(int) []byte { return nil }, 1000, 300 * time.Millisecond, 0, true, "run timed out"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			target := startFake(t, tt.connect, tt.ann)
			// 1500 peers: two sources, the second one half full.
			sp := spec{target: target, torrents: 7, peers: 1500, rounds: 1, event: eventStarted, numWant: 50,
				window: 64, sockets: 2, timeout: tt.timeout, rto: 20 * time.Millisecond, tries: tt.tries}
			res, err := run(sp, infoHashes(7))
			if err != nil {
				t.Fatal(err)
			}
			if res.announces != 1500 || res.ok != tt.wantOK || res.ok+res.failed != res.announces {
				t.Fatalf("announces %d, ok %d, failed %d; want 1500, %d, and every one accounted for", res.announces, res.ok, res.failed, tt.wantOK)
			}
			if (res.resent > 0) != tt.wantResent {
				t.Errorf("resent %d, want some: %v", res.resent, tt.wantResent)
			}
			if tt.wantReason != "" && !strings.Contains(reasonsText(res.reasons), tt.wantReason) {
				t.Errorf("reasons:\n%s\nwant one containing %q", reasonsText(res.reasons), tt.wantReason)
			}
		})
	}
}

func TestPutAnnounce(t *testing.T) {
	h := infoHash(3)
	a := announce{connID: 0x0102030405060708, tx: 0x0a0b0c0d, hash: &h, peer: 123456, left: 0, event: eventStarted, numWant: -1, port: 10456}
	p := make([]byte, announceLen)
	putAnnounce(p, &a)
	tests := []struct {
		name     string
		from, to int
		want     []byte
	}{
		{"connection id", 0, 8, []byte{1, 2, 3, 4, 5, 6, 7, 8}},
		{"action announce", 8, 12, []byte{0, 0, 0, 1}},
		{"transaction id", 12, 16, []byte{0x0a, 0x0b, 0x0c, 0x0d}},
		{"info-hash", 16, 36, h[:]},
		{"peer id", 36, 56, []byte("-SW0001-000000123456")},
		{"left", 64, 72, make([]byte, 8)},
		{"event started", 80, 84, []byte{0, 0, 0, 2}},
		{"ip: the source's", 84, 88, []byte{0, 0, 0, 0}},
		{"key", 88, 92, []byte{0, 1, 0xe2, 0x40}},
		{"numwant -1", 92, 96, []byte{0xff, 0xff, 0xff, 0xff}},
		{"port", 96, 98, []byte{0x28, 0xd8}},
	}
	for _, tt := range tests {
		if got := p[tt.from:tt.to]; string(got) != string(tt.want) {
			t.Errorf("%s: % x, want % x", tt.name, got, tt.want)
		}
	}
}

// TestHotPathAllocs checks that sending an announce and taking its answer
// allocate nothing: at 200,000 announces a second, garbage would show in the
// load tool's own CPU time.
func TestHotPathAllocs(t *testing.T) {
	sink, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.MustParseAddrPort("127.0.0.1:0")))
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close()
	conn, err := net.DialUDP("udp4", nil, sink.LocalAddr().(*net.UDPAddr))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	l := &load{spec: spec{torrents: 7, peers: 1000, event: eventStarted, numWant: 50}, hashes: infoHashes(7), perSocket: 1}
	w := &worker{l: l, conn: conn, slots: make([]slot, 1), free: make([]int, 0, 1), n: 1000}
	w.free = append(w.free, 0)
	answer := make([]byte, announceReplyLen)
	binary.BigEndian.PutUint32(answer[0:4], actionAnnounce)
	now := time.Now()
	allocs := testing.AllocsPerRun(1000, func() {
		if err := w.send(5, now); err != nil {
			t.Fatal(err)
		}
		binary.BigEndian.PutUint32(answer[4:8], w.slots[0].tx)
		w.handle(answer)
	})
	if allocs != 0 || w.res.failed != 0 {
		t.Fatalf("%.1f allocations per announce, %d failed; want 0 and 0", allocs, w.res.failed)
	}
}
