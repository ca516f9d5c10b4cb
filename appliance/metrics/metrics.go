// Package metrics serves the tracker's figures at /metrics in the Prometheus
// text format, through github.com/VictoriaMetrics/metrics, with the Go runtime's
// and the process's own.
//
// Every figure is read when the metrics are scraped, from the counters the
// components keep anyway (atomics, read without a lock an announce needs), so
// serving metrics adds nothing to the announce path but the request timing the
// fronts do (package requests). Every figure is an aggregate: no label names a
// peer, a torrent, a key or a client.
package metrics

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"time"

	vm "github.com/VictoriaMetrics/metrics"

	"github.com/swarmlight/swarmlight/appliance/httptracker"
	"github.com/swarmlight/swarmlight/appliance/metrics/requests"
	"github.com/swarmlight/swarmlight/appliance/tracker"
	"github.com/swarmlight/swarmlight/appliance/udptracker"
)

// Figures are what the metrics show, as the components count them.
type Figures struct {
	Uptime  time.Duration
	Tracker tracker.Stats // requests answered, and the store's counts and caps
	HTTP    httptracker.Stats
	UDP     udptracker.Stats

	HTTPRequests, UDPRequests requests.Snapshot // the fronts' Requests()

	// Memory is what the tracker holds, and MemoryBudget what it may hold, as
	// /stats.json's memory_bytes and memory_budget_bytes count them.
	Memory, MemoryBudget int64
}

// Source reads the figures. It is called once per scrape, from the goroutine
// serving it.
type Source func() Figures

// Registry is the metrics, read from a Source. It is an http.Handler for GET
// /metrics.
type Registry struct {
	src Source

	mu  sync.Mutex // one scrape at a time: fig is what the set's functions read
	fig Figures
	set *vm.Set
	// counters are copied from fig before each scrape: the components count,
	// the set only writes what they counted.
	counters []counter
}

type counter struct {
	c   *vm.Counter
	get func(*Figures) uint64
}

// New returns a Registry reading src.
func New(src Source) *Registry {
	// Off by default in the library: without # TYPE lines, Prometheus would see
	// every counter as untyped.
	vm.ExposeMetadata(true)
	r := &Registry{src: src, set: vm.NewSet()}
	r.gauge("swarmlight_uptime_seconds", func(f *Figures) float64 { return f.Uptime.Seconds() })
	r.gauge("swarmlight_torrents", func(f *Figures) float64 { return float64(f.Tracker.Swarm.Torrents) })
	r.gauge("swarmlight_active_swarms", func(f *Figures) float64 { return float64(f.Tracker.Swarm.Active) })
	// Family and status partition the peers: a partial seed (BEP 21) is neither
	// a seeder nor downloading.
	for _, fam := range []struct {
		name string
		v6   bool
	}{{"ipv4", false}, {"ipv6", true}} {
		counts := func(f *Figures) (peers, seeders, partial int) {
			s := f.Tracker.Swarm
			if fam.v6 {
				return s.Peers6, s.Seeders6, s.Partial6
			}
			return s.Peers - s.Peers6, s.Seeders - s.Seeders6, s.Partial - s.Partial6
		}
		r.gauge(`swarmlight_peers{family="`+fam.name+`",status="seeder"}`, func(f *Figures) float64 {
			_, seeders, _ := counts(f)
			return float64(seeders)
		})
		r.gauge(`swarmlight_peers{family="`+fam.name+`",status="partial"}`, func(f *Figures) float64 {
			_, _, partial := counts(f)
			return float64(partial)
		})
		r.gauge(`swarmlight_peers{family="`+fam.name+`",status="leecher"}`, func(f *Figures) float64 {
			peers, seeders, partial := counts(f)
			return float64(max(peers-seeders-partial, 0))
		})
	}
	r.gauge("swarmlight_memory_bytes", func(f *Figures) float64 { return float64(f.Memory) })
	r.gauge("swarmlight_memory_budget_bytes", func(f *Figures) float64 { return float64(f.MemoryBudget) })
	r.gauge("swarmlight_http_connections", func(f *Figures) float64 { return float64(f.HTTP.Open) })

	for _, c := range []struct {
		cap string
		get func(*Figures) uint64
	}{
		{"torrents", func(f *Figures) uint64 { return f.Tracker.Swarm.CapTorrents }},
		{"peers", func(f *Figures) uint64 { return f.Tracker.Swarm.CapPeers }},
		{"swarm", func(f *Figures) uint64 { return f.Tracker.Swarm.CapSwarm }},
		{"memory", func(f *Figures) uint64 { return f.Tracker.Swarm.CapMemory }},
		{"source_torrents", func(f *Figures) uint64 { return f.Tracker.Swarm.QuotaTorrents }},
		{"source_peers", func(f *Figures) uint64 { return f.Tracker.Swarm.QuotaPeers }},
		{"http_connections", func(f *Figures) uint64 { return f.HTTP.CapRefused }},
		{"http_source", func(f *Figures) uint64 { return f.HTTP.SourceRefused }},
	} {
		r.counter(`swarmlight_cap_refusals_total{cap="`+c.cap+`"}`, c.get)
	}

	for _, p := range []struct {
		proto   string
		actions []requests.Action
		snap    func(*Figures) *requests.Snapshot
	}{
		{"http", []requests.Action{requests.Announce, requests.Scrape}, func(f *Figures) *requests.Snapshot { return &f.HTTPRequests }},
		{"udp", []requests.Action{requests.Connect, requests.Announce, requests.Scrape}, func(f *Figures) *requests.Snapshot { return &f.UDPRequests }},
	} {
		for _, a := range p.actions {
			for res := range requests.NumResults {
				name := fmt.Sprintf(`swarmlight_requests_total{proto=%q,action=%q,result=%q}`, p.proto, a, res)
				r.counter(name, func(f *Figures) uint64 { return p.snap(f).Requests[a][res] })
			}
		}
	}
	r.set.RegisterMetricsWriter(func(w io.Writer) {
		writeHistogram(w, "swarmlight_request_duration_seconds", "http", &r.fig.HTTPRequests, true)
		writeHistogram(w, "swarmlight_request_duration_seconds", "udp", &r.fig.UDPRequests, false)
	})
	r.counter("swarmlight_udp_packets_total", func(f *Figures) uint64 { return f.UDP.Packets })
	r.counter("swarmlight_udp_dropped_total", func(f *Figures) uint64 { return f.UDP.Dropped })
	return r
}

// Handler is New(src), for mounting at /metrics.
func Handler(src Source) http.Handler { return New(src) }

func (r *Registry) gauge(name string, get func(*Figures) float64) {
	r.set.NewGauge(name, func() float64 { return get(&r.fig) })
}

func (r *Registry) counter(name string, get func(*Figures) uint64) {
	r.counters = append(r.counters, counter{r.set.NewCounter(name), get})
}

// WriteTo writes the metrics, the tracker's then the Go runtime's and the
// process's, in the Prometheus text format.
func (r *Registry) WriteTo(w io.Writer) (int64, error) {
	var buf bytes.Buffer
	r.mu.Lock()
	r.fig = r.src()
	for _, c := range r.counters {
		c.c.Set(c.get(&r.fig))
	}
	r.set.WritePrometheus(&buf)
	r.mu.Unlock()
	vm.WriteProcessMetrics(&buf)
	return buf.WriteTo(w)
}

// ServeHTTP answers GET and HEAD with the metrics. They are the state of this
// moment: no cache may keep them.
func (r *Registry) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	if req.Method != http.MethodGet && req.Method != http.MethodHead {
		h.Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	var buf bytes.Buffer
	if _, err := r.WriteTo(&buf); err != nil {
		http.Error(w, "metrics: "+err.Error(), http.StatusInternalServerError)
		return
	}
	h.Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(buf.Len()))
	if req.Method == http.MethodGet {
		_, _ = buf.WriteTo(w)
	}
}

// writeHistogram writes one proto's request durations as a Prometheus histogram:
// cumulative buckets, then the sum and the count. The library's own histogram
// takes a lock per observation, which the UDP workers would contend for; these
// buckets are the fronts' atomics, written here at scrape time.
func writeHistogram(w io.Writer, name, proto string, s *requests.Snapshot, meta bool) {
	if meta {
		fmt.Fprintf(w, "# HELP %s Time from a tracker request's arrival at the front to its reply.\n# TYPE %s histogram\n", name, name)
	}
	var cum uint64
	for i, b := range requests.Bounds {
		cum += s.Buckets[i]
		fmt.Fprintf(w, "%s_bucket{proto=%q,le=%q} %d\n", name, proto, strconv.FormatFloat(b.Seconds(), 'g', -1, 64), cum)
	}
	cum += s.Buckets[len(requests.Bounds)]
	fmt.Fprintf(w, "%s_bucket{proto=%q,le=\"+Inf\"} %d\n", name, proto, cum)
	fmt.Fprintf(w, "%s_sum{proto=%q} %s\n", name, proto, strconv.FormatFloat(s.Sum.Seconds(), 'g', -1, 64))
	fmt.Fprintf(w, "%s_count{proto=%q} %d\n", name, proto, cum)
}
