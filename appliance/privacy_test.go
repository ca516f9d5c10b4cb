package appliance_test

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/swarmlight/swarmlight/appliance/access"
	"github.com/swarmlight/swarmlight/appliance/privacytest"
)

// TestLogsHoldNoPeerData runs the tracker at debug level, sends announces, scrapes
// and malformed requests from distinct addresses with distinct hashes, peer ids,
// keys, ports and claimed addresses, and fails if any of those values appears in the
// log in any encoding. This is the product's promise: nothing to hand over.
func TestLogsHoldNoPeerData(t *testing.T) {
	cfg := defaultConfig(t)
	cfg.HTTP.Listen = []string{"127.0.0.1:0"}
	cfg.UDP.Listen = []string{"127.0.0.1:0"}
	cfg.Tracker.AllowIPParam = true
	cfg.Tracker.FullScrape = true
	// A private tracker, so that a member's passkey rides in every request (the
	// path, the query, BEP 41 URL data) and a wrong one is refused: neither may
	// show in the log.
	const passkey, wrongKey = "5ec7e7a11ce0b0b5ca1ab1e5f00dcafe", "0badc0de0badc0de0badc0de0badc0de"
	digest := sha256.Sum256([]byte(passkey))
	cfg.Access.KeyFile = filepath.Join(t.TempDir(), "passkeys")
	if err := os.WriteFile(cfg.Access.KeyFile, []byte("alice "+hex.EncodeToString(digest[:])+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var err error
	if cfg.Access.Mode, err = access.ParseMode("private"); err != nil {
		t.Fatal(err)
	}
	r := start(t, cfg)
	root, udpAddr := strings.TrimSuffix(r.urls[0], "/announce"), strings.TrimSuffix(strings.TrimPrefix(r.urls[1], "udp://"), "/announce")
	base, scrapeBase := root+"/"+passkey+"/announce", root+"/"+passkey+"/scrape"

	secrets := append(privacytest.Encodings([]byte(passkey)), privacytest.Encodings([]byte(wrongKey))...)
	for i := range 4 {
		src := fmt.Sprintf("127.0.0.%d", 11+i)
		claimed := fmt.Sprintf("10.77.%d.%d", 3+i, 41+i)
		claimed6 := fmt.Sprintf("fd00::77:%d", 4141+i)
		hash := fmt.Sprintf("\x01\xfe\x7f\x80-privhash-%d!", i)
		hash += strings.Repeat("\xab", 20-len(hash))
		peerID := fmt.Sprintf("-PV%04d-%012d", i, 918273645+i)
		key := fmt.Sprintf("%08X", 0x5EC7E700+i)
		port := fmt.Sprint(17631 + i)
		secrets = append(secrets, src, claimed, claimed6, peerID, key, port)
		secrets = append(secrets, encodings(hash)...)
		secrets = append(secrets, encodings(peerID)...)
		secrets = append(secrets, records(src, port)...)
		secrets = append(secrets, records(claimed, port)...)
		secrets = append(secrets, records(claimed6, port)...)

		q := query(hash, peerID, port, "left="+fmt.Sprint(i), "event=started", "key="+key, "ip="+claimed, "ipv6="+url.QueryEscape(claimed6), "numwant=20")
		secrets = append(secrets, q)
		if rr := get(t, src, base+"?"+q); rr.FailureReason != "" {
			t.Fatalf("announce: %s", rr.FailureReason)
		}
		get(t, src, base+"?"+strings.Replace(q, "event=started", "event=completed", 1))
		get(t, src, scrapeBase+"?info_hash="+url.QueryEscape(hash))
		get(t, src, scrapeBase)
		// Malformed requests, which are refused and logged, counted by reason.
		get(t, src, base+"?"+strings.Replace(q, "port="+port, "port=0", 1))
		get(t, src, base+"?"+strings.Replace(q, "left=", "left=-", 1))
		get(t, src, base+"?info_hash="+url.QueryEscape(hash[:19])+"&peer_id="+url.QueryEscape(peerID)+"&port="+port)
		get(t, src, scrapeBase+"?info_hash="+url.QueryEscape(hash)+"%ZZ")
		// The key in the query, and a wrong key, which is refused.
		if rr := get(t, src, root+"/announce?"+q+"&passkey="+passkey); rr.FailureReason != "" {
			t.Fatalf("announce with ?passkey=: %s", rr.FailureReason)
		}
		if rr := get(t, src, root+"/"+wrongKey+"/announce?"+q); rr.FailureReason == "" {
			t.Fatal("a wrong passkey was accepted")
		}

		// The same over UDP, from another address, with a claimed address in the
		// packet and BEP 41 URL data, and malformed packets.
		usrc := fmt.Sprintf("127.0.0.%d", 21+i)
		uport := 17731 + i
		uclaimed := [4]byte{10, 78, byte(5 + i), byte(51 + i)}
		secrets = append(secrets, usrc, fmt.Sprint(uport), netip.AddrFrom4(uclaimed).String())
		secrets = append(secrets, records(usrc, fmt.Sprint(uport))...)
		secrets = append(secrets, records(netip.AddrFrom4(uclaimed).String(), fmt.Sprint(uport))...)
		udpExchange(t, usrc, udpAddr, hash, peerID, uint16(uport), uclaimed, "/"+passkey+"/announce?ipv6="+claimed6+"&key="+key)
	}
	// Every byte the status page and what is served beside it hold, after
	// those peers: none of theirs may be among them.
	for _, path := range []string{"/", "/stats.json", "/panel.png", "/panel.png?page=0", "/panel.png?page=1",
		"/panel.png?page=2", "/panel.png?page=3", "/metrics", "/catalog"} {
		resp, body := fetch(t, "127.0.0.1", root+path)
		if resp.StatusCode == http.StatusForbidden {
			t.Fatalf("%s: 403; the scan proves nothing", path)
		}
		for _, leak := range privacytest.Find(string(body), secrets) {
			t.Errorf("%s serves peer data: %s", path, leak)
		}
	}
	if err := r.stop(); err != nil {
		t.Fatal(err)
	}

	logs := r.logs.String()
	for _, refusal := range []string{"msg=refused", `"http: `, `"udp: `} {
		if !strings.Contains(logs, refusal) {
			t.Fatalf("the test proves nothing unless refusals are logged (%q in the refusals line):\n%s", refusal, logs)
		}
	}
	for _, s := range secrets {
		if strings.Contains(logs, s) || strings.Contains(strings.ToLower(logs), strings.ToLower(s)) {
			t.Errorf("log holds peer data %q:\n%s", s, logs)
		}
	}
}

// udpExchange connects, announces (also with a forged connection id and truncated),
// and scrapes over UDP from src, as a BitTorrent client would.
func udpExchange(t *testing.T, src, tracker, hash, peerID string, port uint16, ip [4]byte, urlData string) {
	t.Helper()
	c, err := net.DialUDP("udp", &net.UDPAddr{IP: net.ParseIP(src)}, net.UDPAddrFromAddrPort(netip.MustParseAddrPort(tracker)))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	buf := make([]byte, 2048)
	ask := func(pkt []byte) []byte {
		if _, err := c.Write(pkt); err != nil {
			t.Fatal(err)
		}
		_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
		n, err := c.Read(buf)
		if err != nil {
			t.Fatalf("no UDP reply: %v", err)
		}
		return buf[:n]
	}
	connect := binary.BigEndian.AppendUint64(nil, 0x41727101980)
	connect = binary.BigEndian.AppendUint64(connect, 7) // action 0, transaction 7
	id := ask(connect)[8:16]
	announce := append([]byte(nil), id...)
	announce = binary.BigEndian.AppendUint32(announce, 1)
	announce = binary.BigEndian.AppendUint32(announce, 8)
	announce = append(announce, hash...)
	announce = append(announce, peerID...)
	announce = binary.BigEndian.AppendUint64(announce, 0)
	announce = binary.BigEndian.AppendUint64(announce, 1)
	announce = binary.BigEndian.AppendUint64(announce, 0)
	announce = binary.BigEndian.AppendUint32(announce, 2) // started
	announce = append(announce, ip[:]...)
	announce = binary.BigEndian.AppendUint32(announce, 0x5ec7e7)
	announce = binary.BigEndian.AppendUint32(announce, 0xffffffff) // num_want -1
	announce = binary.BigEndian.AppendUint16(announce, port)
	announce = append(announce, 2, byte(len(urlData)))
	announce = append(announce, urlData...)
	if r := ask(announce); binary.BigEndian.Uint32(r) != 1 {
		t.Fatalf("UDP announce failed: %q", r[8:])
	}
	forged := append([]byte(nil), announce...)
	forged[3] ^= 0xff
	ask(forged)
	ask(announce[:60])
	scrape := append(append([]byte(nil), id...), 0, 0, 0, 2, 0, 0, 0, 9)
	ask(append(scrape, hash...))
}

// encodings are the ways a 20-byte value could end up in a log line, the machine
// words a traceback would print included.
func encodings(v string) []string { return privacytest.Encodings([]byte(v)) }

// records are the ways a peer's address and port could: as text, and as the
// record the store keeps and the words that hold it (127.0.0.77:2690 is
// 0x820a4d00007f).
func records(addr, port string) []string {
	p, _ := strconv.ParseUint(port, 10, 16)
	return privacytest.AddrPort(netip.AddrPortFrom(netip.MustParseAddr(addr), uint16(p)))
}
