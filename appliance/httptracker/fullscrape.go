package httptracker

import (
	"bufio"
	"net/http"
	"net/netip"
	"time"

	"github.com/swarmlight/swarmlight/appliance/access"
	"github.com/swarmlight/swarmlight/appliance/tracker"
)

// fullScrapeChunk is the size of the writes a full scrape makes: large enough that
// chunk framing and deadline updates cost nothing that matters, small next to the
// tracker's batch buffer.
const fullScrapeChunk = 4 << 10

// fullScrape streams the files dict of every torrent to w as the tracker produces
// it (tracker.FullScrape), so that memory stays a few hundred KiB whatever the
// store holds; at a million torrents the reply is 87 MB. A refusal comes before any
// byte and is returned for the usual failure reply; otherwise the reply is written
// and streamed is true.
func (s *Server) fullScrape(w http.ResponseWriter, src netip.Addr, key *access.Key) (streamed bool, err error) {
	st := &scrapeStream{w: w, rc: http.NewResponseController(w), timeout: s.config().WriteTimeout}
	err = s.trk.FullScrape(src, key, st.entry)
	if err != nil && st.bw == nil {
		return false, err
	}
	if err == nil {
		err = st.end()
	}
	if err != nil {
		// Part of the dict is out. Ending the handler normally would send the last
		// chunk and make the reply look complete; cutting the connection tells the
		// client it is not. The error names the client's address, so it is not
		// logged.
		s.log.Debug("http: full scrape cut short")
		panic(http.ErrAbortHandler)
	}
	return true, nil
}

// scrapeStream writes a streamed files dict. It is also the writer under its
// bufio.Writer, so that it sees each chunk go out.
type scrapeStream struct {
	w       http.ResponseWriter
	rc      *http.ResponseController
	timeout time.Duration
	bw      *bufio.Writer // nil until the first byte: a refusal must find nothing written
}

func (st *scrapeStream) begin() error {
	setHeaders(st.w.Header())
	// A ResponseWriter without a connection (a test recorder) has no deadline to
	// push: find out once, not at every chunk.
	if st.timeout > 0 && st.rc.SetWriteDeadline(time.Now().Add(st.timeout)) != nil {
		st.timeout = 0
	}
	st.bw = bufio.NewWriterSize(st, fullScrapeChunk)
	_, err := st.bw.WriteString(scrapeHead)
	return err
}

func (st *scrapeStream) entry(e tracker.ScrapeEntry) error {
	if st.bw == nil {
		if err := st.begin(); err != nil {
			return err
		}
	}
	return writeScrapeEntry(st.bw, &e)
}

// end closes the dict, opening it first if the store was empty.
func (st *scrapeStream) end() error {
	if st.bw == nil {
		if err := st.begin(); err != nil {
			return err
		}
	}
	if _, err := st.bw.WriteString(scrapeTail); err != nil {
		return err
	}
	return st.bw.Flush()
}

// Write pushes the connection's write deadline forward before each chunk, so that
// http.write_timeout bounds how long one chunk takes rather than the whole reply: a
// long full scrape that keeps moving is not cut, a client that stops reading still is.
func (st *scrapeStream) Write(p []byte) (int, error) {
	if st.timeout > 0 {
		_ = st.rc.SetWriteDeadline(time.Now().Add(st.timeout))
	}
	return st.w.Write(p)
}
