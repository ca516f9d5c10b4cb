package appliance_test

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	anacrolix "github.com/anacrolix/torrent/tracker"
	"github.com/anacrolix/torrent/types/infohash"

	"github.com/swarmlight/swarmlight/appliance/access"
	"github.com/swarmlight/swarmlight/appliance/config"
)

// TestReloadUnderLoad: HTTP and UDP announcers keep announcing while reloads
// change intervals, caps, timeouts, listen addresses, the log format and the
// access mode. No request fails and no peer is lost.
func TestReloadUnderLoad(t *testing.T) {
	cfg := defaultConfig(t)
	cfg.HTTP.Listen = []string{"127.0.0.1:0"}
	cfg.UDP.Listen = []string{"127.0.0.1:0"}
	cfg.Panel.Mode = "sim"
	l := startLive(t, cfg)
	httpURL, udpURL := l.urls[0], l.urls[1]
	const peers = 8
	httpHash := "reloadunderloadhttp0"
	udpHash := infohash.T{'r', 'e', 'l', 'o', 'a', 'd', 'u', 'd', 'p'}

	var requests, failures atomic.Int64
	var firstErr atomic.Value
	fail := func(err error) {
		failures.Add(1)
		firstErr.CompareAndSwap(nil, err.Error())
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	round := func(i int) {
		// Half seeders, half leechers, in each swarm.
		left := i % 2
		rr, err := tryGet(http.DefaultClient, httpURL+"?"+query(httpHash, fmt.Sprintf("-HT0001-%012d", i), fmt.Sprint(40000+i), fmt.Sprintf("left=%d", left)))
		if err == nil && rr.FailureReason != "" {
			err = fmt.Errorf("http: %s", rr.FailureReason)
		}
		if err != nil {
			fail(err)
		}
		var id [20]byte
		copy(id[:], fmt.Sprintf("-UD0001-%012d", i))
		if _, err := announce(udpURL, anacrolix.AnnounceRequest{InfoHash: udpHash, PeerId: id, Port: uint16(41000 + i), Left: int64(left), NumWant: -1}); err != nil {
			fail(fmt.Errorf("udp: %w", err))
		}
		requests.Add(2)
	}
	for i := range peers {
		round(i)
	}
	if failures.Load() != 0 {
		t.Fatalf("announces failed before any reload: %v", firstErr.Load())
	}
	hashOf := func(s string) (h infohash.T) { copy(h[:], s); return h }
	before := [2]any{scrape(t, httpURL, hashOf(httpHash)), scrape(t, udpURL, udpHash)}
	wg.Add(2)
	for w := range 2 {
		go func() {
			defer wg.Done()
			for i := w; ; i += 2 {
				select {
				case <-stop:
					return
				default:
				}
				round(i % peers)
				// Steady load, not a flood: the machine is shared.
				time.Sleep(time.Millisecond)
			}
		}()
	}

	deny := filepath.Join(t.TempDir(), "deny.list")
	if err := os.WriteFile(deny, []byte("0123456789abcdef0123456789abcdef01234567 # someone else's\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	unlisted, err := access.ParseMode("unlisted")
	if err != nil {
		t.Fatal(err)
	}
	extra := freePort(t)
	denied := [20]byte{0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef, 0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef, 0x01, 0x23, 0x45, 0x67}
	next := cfg
	probe := func(u string) rawReply {
		rr, err := tryGet(http.DefaultClient, u+"?"+query("reloadunderloadprobe", "-PR0001-000000000001", "6881", "left=0"))
		if err != nil {
			t.Errorf("probe %s: %v", u, err)
		}
		return rr
	}
	for _, step := range []struct {
		name   string
		change func(c *config.Config)
		check  func() bool // that the change took effect
	}{
		{"intervals", func(c *config.Config) { c.Tracker.Interval, c.Tracker.MinInterval = 20*time.Minute, 10*time.Minute },
			func() bool { return near(probe(httpURL).Interval, 20*time.Minute) }},
		{"caps", func(c *config.Config) {
			c.Swarm.MaxPeersPerTorrent, c.Swarm.MaxPeers, c.Swarm.MaxTorrents = 1000, 100000, 1000
			c.Tracker.NumWantDefault, c.Tracker.NumWantMax = 10, 20
		}, nil},
		{"timeouts", func(c *config.Config) {
			c.HTTP.ReadHeaderTimeout, c.HTTP.WriteTimeout, c.HTTP.IdleTimeout = 3*time.Second, 7*time.Second, 4*time.Second
		}, nil},
		{"listen addresses added", func(c *config.Config) {
			c.HTTP.Listen = append([]string{extra}, cfg.HTTP.Listen...)
			c.UDP.Listen = append([]string{extra}, cfg.UDP.Listen...)
		}, func() bool {
			_, err := announce("udp://"+extra+"/announce", anacrolix.AnnounceRequest{InfoHash: udpHash, PeerId: [20]byte{'-', 'P', 'R'}, Port: 1, Event: anacrolix.Stopped})
			return probe("http://"+extra+"/announce").Interval > 0 && err == nil
		}},
		{"log format", func(c *config.Config) { c.Log.Format = "json" },
			func() bool { return strings.Contains(l.logs.String(), `"msg":"reload: configuration reloaded"`) }},
		{"access mode", func(c *config.Config) { c.Access.Mode, c.Access.DenyFile = unlisted, deny },
			func() bool {
				rr, _ := tryGet(http.DefaultClient, httpURL+"?"+query(string(denied[:]), "-PR0001-000000000001", "6881", "left=0"))
				return rr.FailureReason == "torrent not tracked here"
			}},
		{"listen addresses removed", func(c *config.Config) { c.HTTP.Listen, c.UDP.Listen = cfg.HTTP.Listen, cfg.UDP.Listen },
			func() bool {
				// A new connection: one accepted before finishes as it was.
				_, err := tryGet(&http.Client{Transport: &http.Transport{DisableKeepAlives: true}}, "http://"+extra+"/announce")
				return err != nil
			}},
		{"all back", func(c *config.Config) { *c = cfg },
			func() bool { return near(probe(httpURL).Interval, cfg.Tracker.Interval) }},
	} {
		step.change(&next)
		time.Sleep(50 * time.Millisecond)
		if !l.reload(next, nil) {
			t.Fatalf("%s: reload refused:\n%s", step.name, l.logs)
		}
		if step.check != nil && !eventually(step.check) {
			t.Errorf("%s: the change did not take effect", step.name)
		}
	}
	time.Sleep(50 * time.Millisecond)
	close(stop)
	wg.Wait()
	t.Logf("%d requests across the reloads", requests.Load())
	if n := failures.Load(); n != 0 {
		t.Errorf("%d of %d requests failed across the reloads; the first: %v", n, requests.Load(), firstErr.Load())
	}
	if n := requests.Load(); n < 4*peers {
		t.Errorf("only %d requests during the reloads: the load did not run", n)
	}
	after := [2]any{scrape(t, httpURL, hashOf(httpHash)), scrape(t, udpURL, udpHash)}
	if before != after {
		t.Errorf("scrape counts %+v before the reloads and %+v after: peers were lost", before, after)
	}
	if err := l.stop(); err != nil {
		t.Fatal(err)
	}
}
