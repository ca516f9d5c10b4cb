package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/swarmlight/swarmlight/appliance/config"
	"github.com/swarmlight/swarmlight/appliance/human"
	"github.com/swarmlight/swarmlight/appliance/panel"
	"github.com/swarmlight/swarmlight/appliance/web"
)

// statusTimeout bounds the whole fetch: a box on the LAN answers in
// milliseconds, and an SSH user should not wait on one that does not.
const statusTimeout = 5 * time.Second

// statusCmd prints a running tracker's figures, from its /stats.json:
//
//	swarmlight status [URL] [flags]
//
// Without URL it asks the tracker this configuration describes, on this host.
func statusCmd(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && (args[0] == "-h" || args[0] == "--help") {
		printUsage(stdout)
		return exitOK
	}
	flags, operands, _, err := splitArgs(args)
	if err != nil {
		return usageError(stderr, "status: "+err.Error())
	}
	if len(operands) > 1 {
		return usageError(stderr, fmt.Sprintf("status takes at most one URL, got %d arguments", len(operands)))
	}
	cfg, _, status, ok := loadConfig("status", flags, stdout, stderr)
	if !ok {
		return status
	}
	var u string
	if len(operands) == 1 {
		u, err = statsURL(operands[0])
	} else {
		u, err = localStatsURL(cfg)
	}
	if err != nil {
		fmt.Fprintf(stderr, "swarmlight: status: %v\n", err)
		return exitUsage
	}
	snap, err := fetchSnapshot(u)
	if err != nil {
		fmt.Fprintf(stderr, "swarmlight: status: %v\n", err)
		return exitFail
	}
	printStatus(stdout, u, snap)
	return exitOK
}

// statsURL is where a tracker given as a URL, or as host:port, serves its
// figures: the page's address (http://swarmlight.local:6969/) will do.
func statsURL(arg string) (string, error) {
	if !strings.Contains(arg, "://") {
		arg = "http://" + arg
	}
	u, err := url.Parse(arg)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("%q is no http:// URL of a tracker", arg)
	}
	if u.Path == "" || u.Path == "/" {
		u.Path = "/stats.json"
	}
	return u.String(), nil
}

// localStatsURL is the figures of the tracker cfg runs, on its first HTTP
// address: loopback when it listens on every address.
func localStatsURL(cfg config.Config) (string, error) {
	if len(cfg.HTTP.Listen) == 0 {
		return "", errors.New("http.listen is empty: give the tracker's URL")
	}
	host, port, err := net.SplitHostPort(cfg.HTTP.Listen[0])
	if err != nil {
		return "", fmt.Errorf("http.listen %q: %w", cfg.HTTP.Listen[0], err)
	}
	if a, err := netip.ParseAddr(host); host == "" || (err == nil && a.IsUnspecified()) {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port) + "/stats.json", nil
}

// fetchSnapshot gets and decodes the figures at u.
func fetchSnapshot(u string) (web.Snapshot, error) {
	var s web.Snapshot
	c := &http.Client{Timeout: statusTimeout}
	resp, err := c.Get(u)
	if err != nil {
		return s, fmt.Errorf("no answer from the tracker: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return s, fmt.Errorf("reading %s: %w", u, err)
	}
	if resp.StatusCode != http.StatusOK {
		// The tracker's refusals are one short line: say it.
		msg, _, _ := strings.Cut(strings.TrimSpace(string(body)), "\n")
		if len(msg) > 200 {
			msg = msg[:200]
		}
		return s, fmt.Errorf("%s: %s: %s", u, resp.Status, msg)
	}
	if err := json.Unmarshal(body, &s); err != nil {
		return s, fmt.Errorf("%s: not a tracker's figures (is web.enabled on?): %w", u, err)
	}
	return s, nil
}

// printStatus writes the figures as aligned text, one per line.
func printStatus(w io.Writer, u string, s web.Snapshot) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	line := func(label, format string, a ...any) {
		fmt.Fprintf(tw, "%s\t"+format+"\n", append([]any{label}, a...)...)
	}
	line("tracker", "%s", u)
	line("version", "%s", s.Version)
	line("up", "%s", time.Duration(s.UptimeSeconds)*time.Second)
	line("access mode", "%s", s.AccessMode)
	line("torrents", "%s (%s active)", human.Count(s.Torrents), human.Count(s.ActiveSwarms))
	line("peers", "%s", human.Count(s.Peers))
	line("  seeders", "%s", human.Count(s.Seeders))
	line("  leechers", "%s", human.Count(s.Leechers))
	line("  partial seeds", "%s", human.Count(s.PartialSeeds))
	line("announces", "%s (%s/s now)", human.Count(int64(s.AnnouncesTotal)), strconv.FormatFloat(s.AnnouncesPerSecond, 'f', -1, 64))
	line("scrapes", "%s", human.Count(int64(s.ScrapesTotal)))
	line("refused", "%s", human.Count(int64(s.RefusedTotal)))
	if s.MemoryBudgetBytes > 0 {
		line("memory", "%s of %s", human.Bytes(s.MemoryBytes), human.Bytes(s.MemoryBudgetBytes))
	} else {
		line("memory", "%s (no budget)", human.Bytes(s.MemoryBytes))
	}
	c := s.CapRefusals
	line("caps hit", "%s", nonZero([]named{
		{"torrents", c.Torrents}, {"peers", c.Peers}, {"swarm", c.Swarm}, {"memory", c.Memory},
		{"source torrents", c.SourceTorrents}, {"source peers", c.SourcePeers},
		{"http connections", c.HTTPConnections}, {"http source", c.HTTPSource},
	}))
	line("udp packets", "%s (%s dropped, %s bad connection id, %s limited)", human.Count(int64(s.UDP.Packets)),
		human.Count(int64(s.UDP.Dropped)), human.Count(int64(s.UDP.BadConnID)), human.Count(int64(s.UDP.Limited)))
	if len(s.Problems) == 0 {
		line("problems", "none")
	}
	// A list takes a line an item, labelled on the first.
	label := "problems"
	for _, p := range s.Problems {
		line(label, "%s", p)
		label = ""
	}
	label = "announce URLs"
	for _, a := range s.AnnounceURLs {
		line(label, "%s", a)
		label = ""
	}
	tw.Flush()
}

type named struct {
	name string
	n    uint64
}

// nonZero lists the counts that are not zero, or says there are none.
func nonZero(l []named) string {
	var parts []string
	for _, c := range l {
		if c.n > 0 {
			parts = append(parts, c.name+" "+human.Count(int64(c.n)))
		}
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

// liveView is the panel's view of the running tracker whose figures are at u:
// what its display would show, named name.
func liveView(u, name string) (panel.View, error) {
	s, err := fetchSnapshot(u)
	if err != nil {
		return panel.View{}, err
	}
	c := s.CapRefusals
	return panel.View{
		Name: name,
		URLs: s.AnnounceURLs,
		Snapshot: panel.Snapshot{
			Torrents: int(s.Torrents), Seeders: int(s.Seeders), Leechers: int(s.Leechers), Active: int(s.ActiveSwarms),
			Announces: s.AnnouncesTotal,
			// The panel counts the store's caps and quotas, not the HTTP
			// front's connection caps.
			CapHits:   c.Torrents + c.Peers + c.Swarm + c.Memory + c.SourceTorrents + c.SourcePeers,
			HeapBytes: uint64(max(s.MemoryBytes, 0)), MemLimit: uint64(max(s.MemoryBudgetBytes, 0)),
			Problems: s.Problems,
		},
		Rate:     s.AnnouncesPerSecond,
		PerMin:   perMinute(s.HistoryAnnouncesPerSecond),
		Uptime:   time.Duration(s.UptimeSeconds) * time.Second,
		Problems: s.Problems,
	}, nil
}

// historyStep is the time between two samples of history_announces_per_second.
const historyStep = 10 * time.Second

// perMinute turns the rate sampled every 10 s, oldest first, into announces per
// minute, oldest first, as the panel's graph shows them: each minute the sum of
// its six samples, counted back from the newest, so that only the oldest
// minute may be short.
func perMinute(rates []float64) []uint32 {
	per := int(time.Minute / historyStep)
	out := make([]uint32, (len(rates)+per-1)/per)
	for i := range out {
		end := len(rates) - i*per
		var sum float64
		for _, r := range rates[max(end-per, 0):end] {
			sum += max(r, 0) * historyStep.Seconds()
		}
		out[len(out)-1-i] = uint32(min(math.Round(sum), math.MaxUint32))
	}
	return out
}
