package main

import (
	"bytes"
	"context"
	"net"
	"net/netip"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// TestFillRealTrackers builds the real swarmlight, starts it the way the memory
// benchmark does, fills it from the command line with 200 peers over 20 torrents,
// and scrapes every torrent over UDP to see that each peer arrived once, as the
// seeder or leecher it announced as. opentracker gets the same when installed.
func TestFillRealTrackers(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and starts the tracker")
	}
	const torrents, peers = 20, 200
	want := make([]scrapeCounts, torrents)
	for j := range peers {
		if isSeeder(j) {
			want[j%torrents].seeders++
		} else {
			want[j%torrents].leechers++
		}
	}

	launchers := []launcher{}
	sl, err := newSwarmlight(buildSwarmlight(t), pinning{cpu: -1})
	if err != nil {
		t.Fatal(err)
	}
	launchers = append(launchers, sl)
	if path, err := exec.LookPath("opentracker"); err == nil {
		launchers = append(launchers, &opentrackerLauncher{bin: path, pin: pinning{cpu: -1}})
	} else {
		t.Log("opentracker not installed: only swarmlight is filled")
	}

	for _, l := range launchers {
		t.Run(l.name(), func(t *testing.T) {
			trk, err := l.start(torrents)
			if err != nil {
				t.Fatal(err)
			}
			defer trk.stop()

			var stdout, stderr bytes.Buffer
			args := []string{"fill", "--target", trk.udp.String(), "--torrents", "20", "--peers", "200", "--timeout", "30s"}
			if status := runMain(args, &stdout, &stderr); status != 0 {
				t.Fatalf("swarmload %s: status %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), status, stdout.String(), stderr.String())
			}
			if !strings.Contains(stdout.String(), "announces 200, answered 200, failed 0") {
				t.Errorf("fill reported:\n%s", stdout.String())
			}

			got, err := scrapeUDP(trk.udp, infoHashes(torrents))
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != torrents {
				t.Fatalf("scrape answered for %d torrents, want %d", len(got), torrents)
			}
			for i := range want {
				if got[i].seeders != want[i].seeders || got[i].leechers != want[i].leechers {
					t.Errorf("torrent %d: %d seeders and %d leechers, want %d and %d",
						i, got[i].seeders, got[i].leechers, want[i].seeders, want[i].leechers)
				}
			}
		})
	}
}

// TestRefusalsAreCounted fills opentracker with torrents beyond its whitelist:
// each such announce is a failure with its reason, and the run still ends.
func TestRefusalsAreCounted(t *testing.T) {
	if testing.Short() {
		t.Skip("starts opentracker")
	}
	path, err := exec.LookPath("opentracker")
	if err != nil {
		t.Skip("opentracker not installed")
	}
	trk, err := (&opentrackerLauncher{bin: path, pin: pinning{cpu: -1}}).start(10)
	if err != nil {
		t.Fatal(err)
	}
	defer trk.stop()
	sp := spec{target: trk.udp, torrents: 20, peers: 40, rounds: 1, event: eventStarted, numWant: 50,
		window: 8, sockets: 1, timeout: 30 * time.Second, rto: defaultRTO, tries: defaultTries}
	res, err := run(sp, infoHashes(20))
	if err != nil {
		t.Fatal(err)
	}
	// Peers j with j%20 >= 10 announce torrents outside the whitelist.
	if res.ok != 20 || res.failed != 20 || len(res.reasons) != 1 {
		t.Fatalf("ok %d, failed %d, reasons %v; want 20, 20 and one reason", res.ok, res.failed, res.reasons)
	}
}

// scrapeUDP asks the tracker for the counts of hashes in one BEP 15 scrape.
func scrapeUDP(target netip.AddrPort, hashes [][20]byte) ([]scrapeCounts, error) {
	conn, err := net.DialUDP("udp4", nil, net.UDPAddrFromAddrPort(target))
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	buf := make([]byte, 2048)
	var r reply
	for _, pkt := range [][]byte{appendConnect(nil, 7), nil} {
		if pkt == nil {
			id, err := r.connID()
			if err != nil {
				return nil, err
			}
			pkt = appendScrape(nil, id, 8, hashes)
		}
		conn.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := conn.Write(pkt); err != nil {
			return nil, err
		}
		n, err := conn.Read(buf)
		if err != nil {
			return nil, err
		}
		if r, err = parseReply(buf[:n]); err != nil {
			return nil, err
		}
	}
	return r.scrape()
}

// buildSwarmlight compiles ../swarmlight into the test's temporary directory.
func buildSwarmlight(t *testing.T) string {
	t.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		goTool = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	bin := filepath.Join(t.TempDir(), "swarmlight")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	build := exec.CommandContext(ctx, goTool, "build", "-o", bin, "../swarmlight")
	build.Env = append(build.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}
