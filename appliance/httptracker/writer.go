package httptracker

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"sync"
	"time"

	"github.com/anacrolix/torrent/bencode"

	"github.com/swarmlight/swarmlight/appliance/tracker"
)

// The reply types below list their fields in sorted key order. The anacrolix
// encoder sorts struct fields by key itself, so this is not needed for
// correctness; it keeps the source readable against a wire dump.
//
// omitempty in that encoder treats a slice as empty only when it is nil: an empty
// non-nil slice is still written. Optional byte strings are therefore set to nil,
// never to a zero-length slice, when they must be left out.

// announceReply is the BEP 3/23/24 announce dict. Counts are never omitted: zero
// is information (nobody is seeding), not an unknown.
type announceReply struct {
	Complete    int    `bencode:"complete"`
	Downloaded  int    `bencode:"downloaded"`
	Downloaders int    `bencode:"downloaders"`
	ExternalIP  []byte `bencode:"external ip,omitempty"`
	Incomplete  int    `bencode:"incomplete"`
	Interval    int64  `bencode:"interval"`
	MinInterval int64  `bencode:"min interval"`
	Peers       []byte `bencode:"peers"` // nil encodes as "0:", so the key is never missing
	Peers6      []byte `bencode:"peers6,omitempty"`

	// ip backs ExternalIP so that the address needs no allocation. Unexported
	// fields are invisible to the encoder.
	ip [16]byte
}

// scrapeFile is one entry of the BEP 48 files dict, with BEP 21's downloaders.
type scrapeFile struct {
	Complete    int `bencode:"complete"`
	Downloaded  int `bencode:"downloaded"`
	Downloaders int `bencode:"downloaders"`
	Incomplete  int `bencode:"incomplete"`
}

// scrapeReply keys files by the raw 20-byte hash. A map is what makes the encoder
// sort the hashes (bencode requires it) and collapses duplicates for free.
type scrapeReply struct {
	Files map[string]scrapeFile `bencode:"files"`
}

// failureReply is the failure dict. RetryIn holds either an int64 (minutes) or the
// string "never" (BEP 31); the encoder omits it when it is a nil interface.
type failureReply struct {
	FailureReason string `bencode:"failure reason"`
	RetryIn       any    `bencode:"retry in,omitempty"`
}

// replyBuffer is pooled per reply. Encoding into a buffer first means a reply that
// fails to encode leaves nothing half-written on the connection (a truncated dict
// is unreadable to the client), and the response goes out in one Write instead of
// the dozens of tiny ones the encoder makes. The reply structs live here too, so
// handing them to the encoder as an interface does not allocate per request. Every
// buffered reply is small (tracker.numwant_max and tracker.scrape_max bound it; a
// full scrape is streamed instead), so a pooled buffer stays small too.
type replyBuffer struct {
	buf      bytes.Buffer
	enc      *bencode.Encoder
	announce announceReply
	failure  failureReply
}

var replyPool = sync.Pool{New: func() any {
	rb := new(replyBuffer)
	rb.enc = bencode.NewEncoder(&rb.buf)
	return rb
}}

func getReplyBuffer() *replyBuffer { return replyPool.Get().(*replyBuffer) }

// put drops every reference the reply held (peer slices belong to the caller) and
// returns the buffer to the pool.
func (rb *replyBuffer) put() {
	rb.announce = announceReply{}
	rb.failure = failureReply{}
	rb.buf.Reset()
	replyPool.Put(rb)
}

// encodeTo encodes v into the buffer and writes the result to w in one call.
func (rb *replyBuffer) encodeTo(w io.Writer, v any) error {
	rb.buf.Reset()
	if err := rb.enc.Encode(v); err != nil {
		return fmt.Errorf("bencode: %w", err)
	}
	if _, err := w.Write(rb.buf.Bytes()); err != nil {
		return err
	}
	return nil
}

// writeAnnounce writes the announce reply dict for r. peers is always present,
// possibly as "0:", because BEP 3 makes it a required key of every non-failure
// reply; peers6 and external ip appear only when there is something to say.
func writeAnnounce(w io.Writer, r *tracker.AnnounceResponse) error {
	rb := getReplyBuffer()
	defer rb.put()

	a := &rb.announce
	a.Interval = int64(r.Interval / time.Second)
	a.MinInterval = int64(r.MinInterval / time.Second)
	a.Complete = r.Complete
	a.Incomplete = r.Incomplete
	a.Downloaded = r.Downloaded
	a.Downloaders = r.Downloaders
	a.Peers = r.Peers4
	if len(r.Peers6) > 0 {
		a.Peers6 = r.Peers6
	}
	if ip := r.ExternalIP.Unmap(); ip.Is4() {
		b := ip.As4()
		a.ExternalIP = a.ip[:copy(a.ip[:], b[:])]
	} else if ip.Is6() {
		b := ip.As16()
		a.ExternalIP = a.ip[:copy(a.ip[:], b[:])]
	}

	if err := rb.encodeTo(w, a); err != nil {
		return fmt.Errorf("httptracker: write announce reply: %w", err)
	}
	return nil
}

// writeScrape writes the BEP 48 scrape dict. Each hash appears once even if the
// client asked for it repeatedly: bencode forbids duplicate keys.
func writeScrape(w io.Writer, entries []tracker.ScrapeEntry) error {
	rb := getReplyBuffer()
	defer rb.put()

	files := make(map[string]scrapeFile, len(entries))
	for i := range entries {
		e := &entries[i]
		files[string(e.InfoHash[:])] = scrapeFile{
			Complete:    e.Complete,
			Downloaded:  e.Downloaded,
			Downloaders: e.Downloaders,
			Incomplete:  e.Incomplete,
		}
	}
	if err := rb.encodeTo(w, &scrapeReply{Files: files}); err != nil {
		return fmt.Errorf("httptracker: write scrape reply: %w", err)
	}
	return nil
}

// A full scrape is written a piece at a time, in the bytes writeScrape would give
// for the same entries: the tracker hands them over already sorted, and a map of
// every torrent is the memory a full scrape must not take.
const (
	scrapeHead = "d5:filesd"
	scrapeTail = "ee"
	// maxScrapeEntry is the longest entry: the key, the dict's fixed text and four
	// int64 values of at most 20 characters each.
	maxScrapeEntry = len("20:") + 20 + len("d8:completeie10:downloadedie11:downloadersie10:incompleteiee") + 4*20
)

// writeScrapeEntry writes one entry of a streamed files dict. bw must hold at least
// maxScrapeEntry bytes: the entry is built in its spare capacity, so nothing
// is allocated however many entries go through.
func writeScrapeEntry(bw *bufio.Writer, e *tracker.ScrapeEntry) error {
	if bw.Available() < maxScrapeEntry {
		if err := bw.Flush(); err != nil {
			return fmt.Errorf("httptracker: write scrape entry: %w", err)
		}
	}
	b := append(bw.AvailableBuffer(), "20:"...)
	b = append(b, e.InfoHash[:]...)
	b = append(b, "d8:completei"...)
	b = strconv.AppendInt(b, int64(e.Complete), 10)
	b = append(b, "e10:downloadedi"...)
	b = strconv.AppendInt(b, int64(e.Downloaded), 10)
	b = append(b, "e11:downloadersi"...)
	b = strconv.AppendInt(b, int64(e.Downloaders), 10)
	b = append(b, "e10:incompletei"...)
	b = strconv.AppendInt(b, int64(e.Incomplete), 10)
	b = append(b, "ee"...)
	if _, err := bw.Write(b); err != nil {
		return fmt.Errorf("httptracker: write scrape entry: %w", err)
	}
	return nil
}

// errNilFailure guards against a caller passing a nil *tracker.Error, which would
// otherwise panic deep inside the handler.
var errNilFailure = errors.New("httptracker: write failure reply: nil error")

// writeFailure writes the failure dict for e, with BEP 31's "retry in" when e says
// how long to wait: "never" for a lasting refusal, otherwise whole minutes rounded
// up, so a client never comes back before the tracker is ready for it.
func writeFailure(w io.Writer, e *tracker.Error) error {
	if e == nil {
		return errNilFailure
	}
	rb := getReplyBuffer()
	defer rb.put()

	f := &rb.failure
	f.FailureReason = e.Reason
	switch {
	case e.RetryIn < 0:
		f.RetryIn = "never"
	case e.RetryIn > 0:
		m := int64(e.RetryIn / time.Minute)
		if e.RetryIn%time.Minute != 0 {
			m++
		}
		f.RetryIn = m
	}

	if err := rb.encodeTo(w, f); err != nil {
		return fmt.Errorf("httptracker: write failure reply: %w", err)
	}
	return nil
}
