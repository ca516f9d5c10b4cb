package appliance_test

import (
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/url"
	"strings"
	"testing"
)

// TestLogsHoldNoPeerData runs the tracker at debug level, sends announces, scrapes
// and malformed requests from distinct addresses with distinct hashes, peer ids,
// keys, ports and claimed addresses, and fails if any of those values appears in the
// log in any encoding. This is the product's promise: nothing to hand over.
func TestLogsHoldNoPeerData(t *testing.T) {
	cfg := defaultConfig(t)
	cfg.HTTP.Listen = []string{"127.0.0.1:0"}
	cfg.Tracker.AllowIPParam = true
	cfg.Tracker.FullScrape = true
	r := start(t, cfg)
	base := r.urls[0]
	scrapeBase := strings.TrimSuffix(base, "announce") + "scrape"

	var secrets []string
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

		q := query(hash, peerID, port, "left="+fmt.Sprint(i), "event=started", "key="+key, "ip="+claimed, "ipv6="+url.QueryEscape(claimed6), "numwant=20")
		secrets = append(secrets, q)
		if rr := get(t, src, base+"?"+q); rr.FailureReason != "" {
			t.Fatalf("announce: %s", rr.FailureReason)
		}
		get(t, src, base+"?"+strings.Replace(q, "event=started", "event=completed", 1))
		get(t, src, scrapeBase+"?info_hash="+url.QueryEscape(hash))
		get(t, src, scrapeBase)
		// Malformed requests, which are refused and logged at debug level.
		get(t, src, base+"?"+strings.Replace(q, "port="+port, "port=0", 1))
		get(t, src, base+"?"+strings.Replace(q, "left=", "left=-", 1))
		get(t, src, base+"?info_hash="+url.QueryEscape(hash[:19])+"&peer_id="+url.QueryEscape(peerID)+"&port="+port)
		get(t, src, scrapeBase+"?info_hash="+url.QueryEscape(hash)+"%ZZ")
	}
	if err := r.stop(); err != nil {
		t.Fatal(err)
	}

	logs := r.logs.String()
	if !strings.Contains(logs, "level=DEBUG") {
		t.Fatalf("the test proves nothing unless something logged at debug level:\n%s", logs)
	}
	for _, s := range secrets {
		if strings.Contains(logs, s) || strings.Contains(strings.ToLower(logs), strings.ToLower(s)) {
			t.Errorf("log holds peer data %q:\n%s", s, logs)
		}
	}
}

// encodings are the ways a 20-byte value could end up in a log line.
func encodings(v string) []string {
	return []string{
		v,
		hex.EncodeToString([]byte(v)),
		url.QueryEscape(v),
		url.PathEscape(v),
		fmt.Sprintf("%q", v),
		fmt.Sprintf("%x", []byte(v)),
		fmt.Sprintf("%v", []byte(v)),
		base64.StdEncoding.EncodeToString([]byte(v)),
		base64.RawURLEncoding.EncodeToString([]byte(v)),
	}
}
