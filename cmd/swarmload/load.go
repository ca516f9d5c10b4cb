package main

import (
	"cmp"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// spec is one load: which peers announce, how often, and how hard.
type spec struct {
	target   netip.AddrPort
	torrents int           // T: peer j announces torrent j%T
	peers    int           // P: peers 0..P-1
	rounds   int           // announces per peer; a fill is 1
	event    uint32        // BEP 15 event sent with every announce
	numWant  int32         // peers asked for
	window   int           // requests in flight, across all sockets
	sockets  int           // source sockets open at once
	timeout  time.Duration // bound on the whole run
	rto      time.Duration // silence after which a request is sent again
	tries    int           // sends of one request before it counts as failed
}

// Defaults. The window stays below what a tracker's UDP receive queue holds at the
// kernel's default buffer (about 200 small datagrams): more in flight would only
// be dropped there and cost a retransmit timeout each.
const (
	defaultWindow  = 128
	defaultSockets = 8
	defaultNumWant = 50
	defaultRTO     = 500 * time.Millisecond
	defaultTries   = 4

	// connIDMaxAge is when a source connects again; BEP 15 IDs live 2 minutes.
	connIDMaxAge = 60 * time.Second
)

func (sp *spec) check() error {
	switch {
	case sp.torrents < 1:
		return fmt.Errorf("swarmload: --torrents %d: want at least 1", sp.torrents)
	case sp.peers < 1 || sp.peers > maxPeers:
		return fmt.Errorf("swarmload: --peers %d: want 1 to %d", sp.peers, maxPeers)
	case sp.rounds < 1:
		return fmt.Errorf("swarmload: %d announces per peer: want at least 1", sp.rounds)
	case sp.window < 1 || sp.window > 1<<20:
		return fmt.Errorf("swarmload: --window %d: want 1 to %d", sp.window, 1<<20)
	case sp.sockets < 1 || sp.sockets > 4096:
		return fmt.Errorf("swarmload: --sockets %d: want 1 to 4096", sp.sockets)
	case sp.numWant < -1:
		return fmt.Errorf("swarmload: --numwant %d: want -1 (the tracker's default) or more", sp.numWant)
	case sp.timeout <= 0:
		return fmt.Errorf("swarmload: --timeout %v: want a positive duration", sp.timeout)
	case sp.rto <= 0 || sp.tries < 1:
		return errors.New("swarmload: retransmission needs a positive timeout and at least one try")
	}
	_, err := parseTarget(sp.target.String())
	return err
}

// result is what a load achieved.
type result struct {
	announces int64 // asked for: peers × rounds
	ok        int64 // answered with an announce reply
	failed    int64 // refused, unanswered after every try, or not sent in time
	resent    int64 // retransmissions
	elapsed   time.Duration
	reasons   map[string]int64 // why announces failed, and how many each
}

func (r *result) rate() float64 {
	if r.elapsed <= 0 {
		return 0
	}
	return float64(r.ok) / r.elapsed.Seconds()
}

// run sends the load and waits for every answer, or for the timeout. hashes are
// the torrents' info-hashes, computed once by the caller (infoHashes).
func run(sp spec, hashes [][20]byte) (result, error) {
	if err := sp.check(); err != nil {
		return result{}, err
	}
	if len(hashes) < sp.torrents {
		return result{}, errors.New("swarmload: fewer info-hashes than torrents")
	}
	l := &load{spec: sp, hashes: hashes, sources: numSources(sp.peers)}
	workers := min(sp.sockets, l.sources)
	// A source has at most portsPerSource peers, and one peer is never in flight
	// twice.
	l.perSocket = max(1, min((sp.window+workers-1)/workers, portsPerSource))

	start := time.Now()
	l.deadline = start.Add(sp.timeout)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l.work()
		}()
	}
	wg.Wait()
	res := l.res
	res.announces = int64(sp.peers) * int64(sp.rounds)
	res.elapsed = time.Since(start)
	return res, l.err
}

// load is a run in progress, shared by its workers.
type load struct {
	spec
	hashes    [][20]byte
	sources   int
	perSocket int
	deadline  time.Time
	next      atomic.Int64 // the next source to take

	mu  sync.Mutex
	res result
	err error
}

// work takes sources one at a time until none is left: each socket lives only
// while its source's peers announce, so a load of millions of peers never holds
// more than a few sockets open.
func (l *load) work() {
	w := &worker{l: l, buf: make([]byte, 2048), slots: make([]slot, l.perSocket)}
	var err error
	for err == nil {
		s := int(l.next.Add(1) - 1)
		if s >= l.sources {
			break
		}
		err = w.source(s)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.res.ok += w.res.ok
	l.res.failed += w.res.failed
	l.res.resent += w.res.resent
	if l.res.reasons == nil {
		l.res.reasons = make(map[string]int64)
	}
	for k, v := range w.res.reasons {
		l.res.reasons[k] += v
	}
	if err != nil && l.err == nil {
		l.err = err
	}
	if err != nil {
		// Sources nobody will take now: their announces are failures, not silence.
		for s := int(l.next.Add(1) - 1); s < l.sources; s = int(l.next.Add(1) - 1) {
			l.res.failed += int64(l.sourcePeers(s) * l.rounds)
		}
	}
}

// sourcePeers is how many peers source s holds: portsPerSource, but the last may
// hold fewer.
func (l *load) sourcePeers(s int) int {
	return min(portsPerSource, l.peers-s*portsPerSource)
}

// A transaction ID is a sequence number in the top 16 bits and the slot below, so
// that a reply finds its slot without a search. Connects use a slot number no
// window reaches.
const connectSlot = 0xffff

// slot is one request in flight.
type slot struct {
	busy  bool
	seq   int // position in the source's sequence of announces
	tx    uint32
	sent  time.Time
	tries int
}

// worker drives one socket at a time; nothing in its steady loop allocates.
type worker struct {
	l     *load
	conn  *net.UDPConn
	buf   []byte
	pkt   [announceLen]byte
	slots []slot
	free  []int
	gen   uint32
	res   result
	key   []byte // scratch for failBytes

	connID   uint64
	connAt   time.Time
	first    int // peer number of the source's first peer
	n        int // peers in the source
	inflight int
}

// source announces every peer of source s, rounds times each.
func (w *worker) source(s int) error {
	l := w.l
	w.first, w.n = s*portsPerSource, l.sourcePeers(s)
	w.connAt = time.Time{} // an ID is good only for the address it was issued to
	total := w.n * l.rounds
	if time.Now().After(l.deadline) {
		w.fail(int64(total), "run timed out")
		return nil
	}
	conn, err := net.DialUDP("udp4",
		net.UDPAddrFromAddrPort(netip.AddrPortFrom(sourceAddr(s), 0)),
		net.UDPAddrFromAddrPort(l.target))
	if err != nil {
		w.fail(int64(total), "socket: "+err.Error())
		return fmt.Errorf("swarmload: source socket: %w", err)
	}
	defer conn.Close()
	// Replies carry up to numwant peers each; a larger queue keeps a burst of them
	// from being dropped on our side (the kernel caps it at net.core.rmem_max).
	conn.SetReadBuffer(1 << 20)
	w.conn = conn

	window := min(l.perSocket, w.n)
	clear(w.slots) // a source that timed out may have left requests in them
	w.free = w.free[:0]
	for i := range window {
		w.free = append(w.free, i)
	}
	w.inflight = 0
	tick := l.rto / 2
	var lastScan, deadlineAt time.Time
	seq := 0
	for {
		now := time.Now()
		if now.After(l.deadline) {
			w.fail(int64(total-seq+w.inflight), "run timed out")
			return nil
		}
		// Reconnect only with nothing in flight, so that every reply in hand
		// belongs to a request sent under the ID it carried.
		if (w.connAt.IsZero() || now.Sub(w.connAt) > connIDMaxAge) && w.inflight == 0 {
			if err := w.connect(); err != nil {
				w.fail(int64(total-seq), "connect: "+err.Error())
				return nil
			}
			now = time.Now()
			deadlineAt = time.Time{}
		}
		for w.inflight < window && seq < total && now.Sub(w.connAt) <= connIDMaxAge {
			if err := w.send(seq, now); err != nil {
				w.fail(int64(total-seq+w.inflight), "send: "+err.Error())
				return fmt.Errorf("swarmload: send: %w", err)
			}
			seq++
		}
		if w.inflight == 0 && seq == total {
			return nil
		}
		if now.Sub(lastScan) >= tick {
			if err := w.scan(now); err != nil {
				w.fail(int64(total-seq+w.inflight), "send: "+err.Error())
				return fmt.Errorf("swarmload: send: %w", err)
			}
			lastScan = now
		}
		// A deadline a tick ahead, moved only every half tick: a timer update per
		// packet would cost more than the packet.
		if now.Sub(deadlineAt) >= tick/2 {
			conn.SetReadDeadline(earliest(now.Add(tick), l.deadline))
			deadlineAt = now
		}
		n, err := conn.Read(w.buf)
		if err != nil {
			if isTimeout(err) {
				continue
			}
			w.fail(int64(total-seq+w.inflight), "receive: "+err.Error())
			return fmt.Errorf("swarmload: receive: %w", err)
		}
		w.handle(w.buf[:n])
	}
}

// send puts announce seq of this source in a free slot and sends it.
func (w *worker) send(seq int, now time.Time) error {
	i := w.free[len(w.free)-1]
	w.free = w.free[:len(w.free)-1]
	w.gen++
	w.slots[i] = slot{busy: true, seq: seq, tx: w.gen<<16 | uint32(i), sent: now, tries: 1}
	w.inflight++
	return w.write(&w.slots[i])
}

// write builds a slot's packet and sends it. A peer's announce is the same packet
// every time but for the transaction and connection IDs.
func (w *worker) write(sl *slot) error {
	l := w.l
	j := w.first + sl.seq%w.n
	a := announce{
		connID:  w.connID,
		tx:      sl.tx,
		hash:    &l.hashes[j%l.torrents],
		peer:    j,
		left:    1 << 30,
		event:   l.event,
		numWant: l.numWant,
		port:    uint16(basePort + j%portsPerSource),
	}
	if isSeeder(j) {
		a.left = 0
	}
	putAnnounce(w.pkt[:], &a)
	_, err := w.conn.Write(w.pkt[:])
	return err
}

// scan sends again what has waited a whole retransmission timeout, and gives up on
// what has had every try.
func (w *worker) scan(now time.Time) error {
	l := w.l
	for i := range w.slots[:min(l.perSocket, w.n)] {
		sl := &w.slots[i]
		if !sl.busy || now.Sub(sl.sent) < l.rto {
			continue
		}
		if sl.tries >= l.tries {
			w.done(i)
			w.fail(1, fmt.Sprintf("no reply after %d tries", l.tries))
			continue
		}
		sl.tries++
		sl.sent = now
		w.res.resent++
		if err := w.write(sl); err != nil {
			return err
		}
	}
	return nil
}

// handle matches a reply to its slot; replies to requests already answered or
// given up are ignored.
func (w *worker) handle(p []byte) {
	r, err := parseReply(p)
	if err != nil {
		return
	}
	i := int(r.tx & 0xffff)
	if i >= len(w.slots) || !w.slots[i].busy || w.slots[i].tx != r.tx {
		return
	}
	w.done(i)
	switch {
	case r.action == actionAnnounce && len(p) >= announceReplyLen:
		w.res.ok++
	case r.action == actionAnnounce:
		// opentracker's answer to an info-hash outside its whitelist.
		w.fail(1, "announce reply without counts (opentracker: info-hash not whitelisted)")
	case r.action == actionError:
		w.failBytes(r.body)
	default:
		w.fail(1, fmt.Sprintf("unexpected reply action %d", r.action))
	}
}

func (w *worker) done(i int) {
	w.slots[i].busy = false
	w.free = append(w.free, i)
	w.inflight--
}

// connect gets a connection ID for the current source, trying as often as an
// announce would.
func (w *worker) connect() error {
	l := w.l
	for range l.tries {
		w.gen++
		tx := w.gen<<16 | connectSlot
		if _, err := w.conn.Write(appendConnect(w.pkt[:0], tx)); err != nil {
			return err
		}
		w.conn.SetReadDeadline(earliest(time.Now().Add(l.rto), l.deadline))
		for {
			n, err := w.conn.Read(w.buf)
			if isTimeout(err) {
				break
			}
			if err != nil {
				return err
			}
			r, err := parseReply(w.buf[:n])
			if err != nil || r.tx != tx {
				continue
			}
			if r.action == actionError {
				return fmt.Errorf("refused: %q", r.body)
			}
			id, err := r.connID()
			if err != nil {
				return err
			}
			w.connID, w.connAt = id, time.Now()
			return nil
		}
		if time.Now().After(l.deadline) {
			break
		}
	}
	return fmt.Errorf("no reply after %d tries", l.tries)
}

func (w *worker) fail(n int64, reason string) {
	if n <= 0 {
		return
	}
	w.res.failed += n
	if w.res.reasons == nil {
		w.res.reasons = make(map[string]int64)
	}
	w.res.reasons[reason] += n
}

// failBytes records a tracker's error message. The key is built in a reused
// buffer and looked up as string(key), which does not allocate: a flood of
// refusals costs one allocation per distinct reason.
func (w *worker) failBytes(msg []byte) {
	w.res.failed++
	if w.res.reasons == nil {
		w.res.reasons = make(map[string]int64)
	}
	w.key = append(append(w.key[:0], "tracker: "...), msg...)
	if _, ok := w.res.reasons[string(w.key)]; ok {
		w.res.reasons[string(w.key)]++
		return
	}
	w.res.reasons[string(w.key)] = 1
}

func earliest(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// reasonsText lists failure reasons, most frequent first, one a line.
func reasonsText(reasons map[string]int64) string {
	keys := slices.SortedFunc(maps.Keys(reasons), func(a, b string) int {
		return cmp.Or(cmp.Compare(reasons[b], reasons[a]), strings.Compare(a, b))
	})
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "  %d × %s\n", reasons[k], k)
	}
	return b.String()
}
