//go:build soak && linux

package soak

import (
	"crypto/sha1"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// A minimal BEP 15 client, enough to see whether a tracker answers and what it
// holds, and a minimal HTTP one. The load itself is swarmload's.

const (
	protocolID     = 0x41727101980
	actionConnect  = 0
	actionAnnounce = 1
	actionScrape   = 2
	actionError    = 3
	eventStarted   = 2
	eventStopped   = 3
)

// loadHash is torrent i's info-hash in a swarmload load: SHA-1("swarmload-" + i).
func loadHash(i int) [20]byte { return sha1.Sum([]byte("swarmload-" + strconv.Itoa(i))) }

// probeHash is a torrent no load announces.
var probeHash = sha1.Sum([]byte("soak probe"))

// udpSession is one connected BEP 15 client socket.
type udpSession struct {
	conn   *net.UDPConn
	connID uint64
	wait   time.Duration
	buf    [2048]byte
}

func dialUDP(target netip.AddrPort, wait time.Duration) (*udpSession, error) {
	conn, err := net.DialUDP("udp4", nil, net.UDPAddrFromAddrPort(target))
	if err != nil {
		return nil, fmt.Errorf("soak: udp: %w", err)
	}
	s := &udpSession{conn: conn, wait: wait}
	pkt := binary.BigEndian.AppendUint64(nil, protocolID)
	pkt = binary.BigEndian.AppendUint32(pkt, actionConnect)
	pkt = binary.BigEndian.AppendUint32(pkt, 1)
	body, err := s.ask(pkt, actionConnect)
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("soak: udp: connect: %w", err)
	}
	if len(body) < 8 {
		conn.Close()
		return nil, errors.New("soak: udp: short connect reply")
	}
	s.connID = binary.BigEndian.Uint64(body)
	return s, nil
}

func (s *udpSession) Close() error { return s.conn.Close() }

// ask sends pkt and returns the body of the reply with the same transaction id.
func (s *udpSession) ask(pkt []byte, action uint32) ([]byte, error) {
	tx := binary.BigEndian.Uint32(pkt[12:16])
	s.conn.SetDeadline(time.Now().Add(s.wait))
	if _, err := s.conn.Write(pkt); err != nil {
		return nil, err
	}
	for {
		n, err := s.conn.Read(s.buf[:])
		if err != nil {
			return nil, err
		}
		if n < 8 || binary.BigEndian.Uint32(s.buf[4:8]) != tx {
			continue
		}
		got := binary.BigEndian.Uint32(s.buf[0:4])
		if got == actionError {
			return nil, fmt.Errorf("tracker: %q", s.buf[8:n])
		}
		if got != action {
			return nil, fmt.Errorf("reply action %d, want %d", got, action)
		}
		return s.buf[8:n], nil
	}
}

func (s *udpSession) announce(hash [20]byte, peer uint32, port uint16, left uint64, event uint32) error {
	p := make([]byte, 98)
	binary.BigEndian.PutUint64(p[0:], s.connID)
	binary.BigEndian.PutUint32(p[8:], actionAnnounce)
	binary.BigEndian.PutUint32(p[12:], 2+event)
	copy(p[16:36], hash[:])
	copy(p[36:56], fmt.Sprintf("-SK0001-%012d", peer))
	binary.BigEndian.PutUint64(p[64:], left)
	binary.BigEndian.PutUint32(p[80:], event)
	binary.BigEndian.PutUint32(p[88:], peer)
	binary.BigEndian.PutUint32(p[92:], 0) // numwant
	binary.BigEndian.PutUint16(p[96:], port)
	body, err := s.ask(p, actionAnnounce)
	if err != nil {
		return fmt.Errorf("soak: udp: announce: %w", err)
	}
	if len(body) < 12 {
		return errors.New("soak: udp: announce reply without counts")
	}
	return nil
}

// scrape returns seeders+leechers of each hash.
func (s *udpSession) scrape(hashes [][20]byte) ([]int, error) {
	p := binary.BigEndian.AppendUint64(nil, s.connID)
	p = binary.BigEndian.AppendUint32(p, actionScrape)
	p = binary.BigEndian.AppendUint32(p, 9)
	for _, h := range hashes {
		p = append(p, h[:]...)
	}
	body, err := s.ask(p, actionScrape)
	if err != nil {
		return nil, fmt.Errorf("soak: udp: scrape: %w", err)
	}
	if len(body) != 12*len(hashes) {
		return nil, fmt.Errorf("soak: udp: scrape of %d hashes answered with %d bytes", len(hashes), len(body))
	}
	n := make([]int, len(hashes))
	for i := range n {
		n[i] = int(binary.BigEndian.Uint32(body[12*i:]) + binary.BigEndian.Uint32(body[12*i+8:]))
	}
	return n, nil
}

// probe is one peer outside every load (127.0.0.1, port 1) announcing probeHash
// and leaving again: the tracker answers, and is as it was.
func probe(target netip.AddrPort, wait time.Duration) error {
	s, err := dialUDP(target, wait)
	if err != nil {
		return err
	}
	defer s.Close()
	if err := s.announce(probeHash, 999_999, 1, 1, eventStarted); err != nil {
		return err
	}
	return s.announce(probeHash, 999_999, 1, 1, eventStopped)
}

// scrapeUDP asks once for the peer counts of hashes.
func scrapeUDP(target netip.AddrPort, hashes [][20]byte) ([]int, error) {
	s, err := dialUDP(target, time.Second)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	return s.scrape(hashes)
}

// httpClient sends from src, one of the 127.0.0.0/8 addresses, so that each
// check's peers have their own.
func httpClient(src netip.Addr) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: src.AsSlice()}, Timeout: 2 * time.Second}
	return &http.Client{Timeout: 3 * time.Second, Transport: &http.Transport{DialContext: d.DialContext, DisableKeepAlives: true}}
}

// httpGet fetches base+path and returns the body and the response's Date.
func httpGet(c *http.Client, base, path string) (string, time.Time, error) {
	resp, err := c.Get(base + path)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("soak: http: %w", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return "", time.Time{}, fmt.Errorf("soak: http: %w", err)
	}
	date, _ := http.ParseTime(resp.Header.Get("Date"))
	return string(b), date, nil
}

var failureReason = regexp.MustCompile(`14:failure reason(\d+):`)

// httpAnnounce announces a seeder for hash on port from c's address; the answer
// is the tracker's failure reason, if any.
func httpAnnounce(c *http.Client, base string, hash [20]byte, peer int, port uint16) (refused string, err error) {
	q := url.Values{
		"info_hash": {string(hash[:])},
		"peer_id":   {fmt.Sprintf("-SK0001-%012d", peer)},
		"port":      {strconv.Itoa(int(port))},
		"left":      {"0"},
		"event":     {"started"},
		"numwant":   {"0"},
	}
	body, _, err := httpGet(c, base, "/announce?"+q.Encode())
	if err != nil {
		return "", err
	}
	if m := failureReason.FindStringSubmatchIndex(body); m != nil {
		n, _ := strconv.Atoi(body[m[2]:m[3]])
		return body[m[1]:min(m[1]+n, len(body))], nil
	}
	if !strings.Contains(body, "8:intervali") {
		return "", fmt.Errorf("soak: http: announce answered %q", body)
	}
	return "", nil
}

var completeField = regexp.MustCompile(`8:completei(\d+)e.*10:incompletei(\d+)e`)

// httpPeers scrapes hash and returns seeders+leechers.
func httpPeers(c *http.Client, base string, hash [20]byte) (int, error) {
	body, _, err := httpGet(c, base, "/scrape?info_hash="+url.QueryEscape(string(hash[:])))
	if err != nil {
		return 0, err
	}
	m := completeField.FindStringSubmatch(body)
	if m == nil {
		return 0, fmt.Errorf("soak: http: scrape answered %q", body)
	}
	s, _ := strconv.Atoi(m[1])
	l, _ := strconv.Atoi(m[2])
	return s + l, nil
}
