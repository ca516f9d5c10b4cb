package appliance

import (
	"context"
	"math"
	"net/http"
	"runtime/debug"
	"runtime/metrics"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/swarmlight/swarmlight/appliance/access"
	"github.com/swarmlight/swarmlight/appliance/config"
	smetrics "github.com/swarmlight/swarmlight/appliance/metrics"
	"github.com/swarmlight/swarmlight/appliance/tracker"
	"github.com/swarmlight/swarmlight/appliance/web"
)

// historyEvery and historyLen are the status page's graph: a sample every
// 10 s over the last hour.
const (
	historyEvery = 10 * time.Second
	historyLen   = 360
)

// webPart is the status page, /stats.json, /panel.png, /metrics and the shelf,
// served on the tracker's HTTP port to the allowed networks (the HTTP front's
// fallback). It reads the same atomics as the panel and the logs: a page
// view costs an announce nothing.
type webPart struct {
	cfg      config.Web
	hf       *httpFront
	uf       *udpFront
	trk      *tracker.Tracker
	acc      *access.Control
	pp       *panelPart
	cp       *catalogPart
	urls     func() []string
	version  string
	problems *problemList

	srv     *web.Server
	metrics http.Handler
	started time.Time
	shown   atomic.Pointer[[]string] // announce URLs, set on the main goroutine
	hist    history
	cancel  context.CancelFunc
	done    chan struct{}
}

func (p *webPart) start(context.Context) error {
	p.started = time.Now()
	p.hist.start(p.started, p.trk.Stats().Announces)
	p.metrics = smetrics.Handler(p.figures)
	p.srv = web.New(p.options())
	p.apply()
	ctx, cancel := context.WithCancel(context.Background())
	p.cancel, p.done = cancel, make(chan struct{})
	go func() {
		defer close(p.done)
		tk := time.NewTicker(historyEvery)
		defer tk.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case now := <-tk.C:
				p.hist.sample(now, p.trk.Stats().Announces)
			}
		}
	}()
	return nil
}

// options are what the server shows under p.cfg; read on the main goroutine,
// where the fronts' addresses and the shelf change.
func (p *webPart) options() web.Options {
	urls := p.urls()
	p.shown.Store(&urls)
	o := web.Options{Refresh: p.cfg.Refresh, Catalog: p.cp.Handler(), Shelf: p.cp.Items()}
	if p.cfg.Enabled {
		o.Source, o.Panel = p.snapshot, p.pp.Current
	}
	if p.cfg.Metrics {
		o.Metrics = p.metrics
	}
	return o
}

// apply hands the server to the HTTP front while it has something to serve.
func (p *webPart) apply() {
	if p.cfg.Enabled || p.cfg.Metrics || p.cp.Handler() != nil {
		p.hf.srv.SetFallback(p.srv)
		return
	}
	p.hf.srv.SetFallback(nil)
}

func (p *webPart) reload(next config.Config) (change, error) {
	// Committed after the fronts and the shelf: the URLs and the shelf are
	// the new ones by then.
	return change{commit: func() []string {
		p.cfg = next.Web
		p.srv.Set(p.options())
		p.apply()
		return nil
	}}, nil
}

func (p *webPart) stop(context.Context) {
	p.hf.srv.SetFallback(nil)
	p.cancel()
	<-p.done
}

// snapshot is what /stats.json and the page show now.
func (p *webPart) snapshot() web.Snapshot {
	st := p.trk.Stats()
	hs, us := p.hf.srv.Stats(), p.uf.srv.Stats()
	used, budget := memoryFigures(st)
	sw := st.Swarm
	s := web.Snapshot{
		Version:       p.version,
		UptimeSeconds: int64(time.Since(p.started).Seconds()),
		AccessMode:    p.acc.Stats().Mode.String(),
		Torrents:      int64(sw.Torrents), Peers: int64(sw.Peers), Seeders: int64(sw.Seeders),
		// As a scrape counts them: every peer not complete, partial seeds too.
		Leechers: int64(sw.Peers - sw.Seeders), PartialSeeds: int64(sw.Partial), ActiveSwarms: int64(sw.Active),
		AnnouncesTotal: st.Announces, ScrapesTotal: st.Scrapes, RefusedTotal: st.Refused,
		MemoryBytes: used, MemoryBudgetBytes: budget,
		CapRefusals: web.CapRefusals{
			Torrents: sw.CapTorrents, Peers: sw.CapPeers, Swarm: sw.CapSwarm, Memory: sw.CapMemory,
			SourceTorrents: sw.QuotaTorrents, SourcePeers: sw.QuotaPeers,
			HTTPConnections: hs.CapRefused, HTTPSource: hs.SourceRefused,
		},
		UDP:          web.UDPStats{Packets: us.Packets, Dropped: us.Dropped, BadConnID: us.BadConnID, Limited: us.Limited},
		AnnounceURLs: slices.Clone(*p.shown.Load()),
	}
	s.AnnouncesPerSecond, s.HistoryAnnouncesPerSecond = p.hist.read(time.Now(), st.Announces)
	// The panel's list is the fuller one: it adds a cap hit lately and the
	// devices that failed since start.
	if shown, ok := p.pp.Current(); ok {
		s.Problems = slices.Clone(shown.View.Problems)
	} else {
		s.Problems = p.problems.list()
	}
	return s
}

// figures are what /metrics shows.
func (p *webPart) figures() smetrics.Figures {
	st := p.trk.Stats()
	used, budget := memoryFigures(st)
	return smetrics.Figures{
		Uptime: time.Since(p.started), Tracker: st,
		HTTP: p.hf.srv.Stats(), UDP: p.uf.srv.Stats(),
		HTTPRequests: p.hf.srv.Requests(), UDPRequests: p.uf.srv.Requests(),
		Memory: used, MemoryBudget: budget,
	}
}

// memoryFigures are what the tracker holds and may hold, as the panel counts
// them: the store's memory, outside the Go heap and under its own budget,
// plus the heap's objects and the Go memory limit, if any.
func memoryFigures(st tracker.Stats) (used, budget int64) {
	heap := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(heap)
	budget = st.Swarm.MemoryBudget
	if l := debug.SetMemoryLimit(-1); l != math.MaxInt64 {
		budget += l
	}
	return int64(heap[0].Value.Uint64()) + st.Swarm.Memory, budget
}

// history is the announce rate over the last hour, a sample per historyEvery.
type history struct {
	mu      sync.Mutex
	at      time.Time // of the last sample
	base    uint64    // announces then
	samples []float64 // oldest first
}

func (h *history) start(now time.Time, announces uint64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.at, h.base, h.samples = now, announces, nil
}

func (h *history) sample(now time.Time, announces uint64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if dt := now.Sub(h.at).Seconds(); dt > 0 {
		h.samples = append(h.samples, round2(float64(announces-h.base)/dt))
		if len(h.samples) > historyLen {
			h.samples = slices.Delete(h.samples, 0, len(h.samples)-historyLen)
		}
	}
	h.at, h.base = now, announces
}

// read returns the rate now, that of the last full sample (before the first
// one, since start), and the samples.
func (h *history) read(now time.Time, announces uint64) (float64, []float64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	samples := slices.Clone(h.samples)
	if len(samples) > 0 {
		return samples[len(samples)-1], samples
	}
	if dt := now.Sub(h.at).Seconds(); dt >= 1 {
		return round2(float64(announces-h.base) / dt), samples
	}
	return 0, samples
}

// round2 keeps two decimals: the page and /stats.json show no more.
func round2(v float64) float64 { return math.Round(v*100) / 100 }
