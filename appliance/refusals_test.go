package appliance_test

import (
	"encoding/binary"
	"math/rand/v2"
	"net"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestRefusalFloodLogsCounts floods the real tracker, at debug level, with 10,000
// garbage datagrams and a few malformed HTTP announces. Refusals are counted, not
// logged one by one: the whole run must log fewer than 20 lines, and its "refused"
// line must carry the exact counts by reason.
func TestRefusalFloodLogsCounts(t *testing.T) {
	const datagrams, httpBad = 10000, 25
	cfg := defaultConfig(t)
	cfg.HTTP.Listen = []string{"127.0.0.1:0"}
	cfg.UDP.Listen = []string{"127.0.0.1:0"}
	cfg.UDP.Workers = 1 // one socket, read in order: a connect's reply means all before it was read
	r := start(t, cfg)
	udpAddr := strings.TrimSuffix(strings.TrimPrefix(r.urls[1], "udp://"), "/announce")

	c, err := net.Dial("udp", udpAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	rng := rand.New(rand.NewPCG(9, 9))
	connect := binary.BigEndian.AppendUint64(nil, 0x41727101980)
	connect = binary.BigEndian.AppendUint64(connect, 0)
	reply := make([]byte, 2048)
	badIDs := 0
	for i := range datagrams {
		pkt := make([]byte, 1+rng.IntN(120))
		for j := range pkt {
			pkt[j] = byte(rng.Uint32())
		}
		// What the tracker refuses with a reason: a header, a connection id it did not
		// issue, and an action that is not connect or error (those are dropped).
		if action := uint32(0); len(pkt) >= 16 {
			if action = binary.BigEndian.Uint32(pkt[8:]); action != 0 && action != 3 {
				badIDs++
			}
		}
		if _, err := c.Write(pkt); err != nil {
			t.Fatal(err)
		}
		// Every 100 datagrams, a connect: once it is answered, the tracker has read
		// everything before it, and the socket's buffer never overflows.
		if i%100 == 99 {
			waitReply(t, c, connect, reply)
		}
	}
	for range httpBad {
		if rr := get(t, "127.0.0.1", r.urls[0]+"?"+query("aaaaaaaaaaaaaaaaaaaa", "-XX0001-000000000001", "0", "left=1")); rr.FailureReason != "invalid port" {
			t.Fatalf("announce with port 0: failure %q", rr.FailureReason)
		}
	}
	if err := r.stop(); err != nil {
		t.Fatal(err)
	}

	logs := strings.TrimSpace(r.logs.String())
	if lines := strings.Count(logs, "\n") + 1; lines >= 20 {
		t.Errorf("%d log lines for %d refusals, want fewer than 20:\n%s", lines, badIDs+httpBad, logs)
	}
	refused := regexp.MustCompile(`(?m)^.*msg=refused .*$`).FindAllString(logs, -1)
	if len(refused) != 1 {
		t.Fatalf("%d refused lines, want 1 (the run is shorter than an interval):\n%s", len(refused), logs)
	}
	for key, want := range map[string]int{
		"total": badIDs + httpBad,
		`"udp: connection id expired or invalid; connect again"`: badIDs,
		`"http: invalid port"`: httpBad,
	} {
		m := regexp.MustCompile(regexp.QuoteMeta(key) + `=(\d+)`).FindStringSubmatch(refused[0])
		if m == nil {
			t.Errorf("refused line has no %s: %s", key, refused[0])
			continue
		}
		if got, _ := strconv.Atoi(m[1]); got != want {
			t.Errorf("refused line counts %s=%d, want %d: %s", key, got, want, refused[0])
		}
	}
	// The flood drew few error replies; the rest were held back and counted.
	if limited := lastStat(t, logs, "udp_limited"); limited < int64(badIDs)*9/10 {
		t.Errorf("udp_limited=%d, want most of the %d bad ids held back", limited, badIDs)
	}
}

// waitReply sends pkt and waits for the reply to it, skipping any error replies
// still on the way.
func waitReply(t *testing.T, c net.Conn, pkt, buf []byte) {
	t.Helper()
	for range 3 {
		if _, err := c.Write(pkt); err != nil {
			t.Fatal(err)
		}
		_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
		for {
			n, err := c.Read(buf)
			if err != nil {
				break
			}
			if n == 16 && binary.BigEndian.Uint32(buf) == 0 {
				return
			}
		}
	}
	t.Fatal("no connect reply in 3 tries")
}
