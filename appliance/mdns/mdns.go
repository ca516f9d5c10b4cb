// Package mdns is the built-in mDNS responder, for a system without avahi-daemon:
// it answers for NAME.local (A and AAAA) and advertises the status page over
// DNS-SD (_http._tcp: PTR, SRV and TXT with the page's and the announce path), so
// that a browser on the LAN opens http://NAME.local:6969/ and service browsers
// list the box (avahi-browse does: cmd/swarmlight's TestMDNSInNamespace).
//
// The wire work is github.com/hashicorp/mdns's server (RFC 6762 headers, unicast
// and multicast replies); this package gives it the records, with the machine's
// addresses as they are when asked, so a DHCP lease that changes after start is
// still answered right. It reads nothing of a BitTorrent peer, and logs nothing
// of the hosts that ask.
package mdns

import (
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	hmdns "github.com/hashicorp/mdns"
	"github.com/miekg/dns"
)

// Service is the DNS-SD service type advertised: the status page, a web page.
const Service = "_http._tcp"

// addrsEvery bounds how often the machine's addresses are read: a LAN that floods
// queries costs one interface listing per period, not one per query.
const addrsEvery = 5 * time.Second

// Opts is what the responder advertises.
type Opts struct {
	// Name is the host label, without .local: the responder answers for
	// Name.local and calls the service "swarmlight on Name".
	Name string
	// Port is the tracker's HTTP port, where the status page is.
	Port int
	// Announce is the announce path, given in the TXT record (announce=...)
	// beside the page's (path=/).
	Announce string
	// Iface, when set, is the one interface to answer on; nil is the system's
	// default multicast interface.
	Iface *net.Interface
}

// Responder answers mDNS queries until Close.
type Responder struct {
	srv *hmdns.Server
}

// Start validates o and starts answering.
func Start(o Opts) (*Responder, error) {
	if msg := checkLabel(o.Name); msg != "" {
		return nil, fmt.Errorf("mdns: name: %s", msg)
	}
	if o.Port <= 0 || o.Port > 65535 {
		return nil, fmt.Errorf("mdns: port %d out of range", o.Port)
	}
	z := &zone{o: o, addrs: hostAddrs}
	if _, err := z.service(); err != nil {
		return nil, err
	}
	srv, err := hmdns.NewServer(&hmdns.Config{
		Zone:  z,
		Iface: o.Iface,
		// The library logs a query it cannot parse or answer whole, sender
		// and all: not ours to keep.
		Logger: log.New(io.Discard, "", 0),
	})
	if err != nil {
		return nil, fmt.Errorf("mdns: listen on udp port 5353: %w", err)
	}
	return &Responder{srv: srv}, nil
}

// Close stops answering and releases port 5353.
func (r *Responder) Close() error {
	if err := r.srv.Shutdown(); err != nil {
		return fmt.Errorf("mdns: stop: %w", err)
	}
	return nil
}

// InstanceName is the name the service is listed under, as Avahi's service file
// names it too ("swarmlight on %h").
func InstanceName(host string) string { return "swarmlight on " + host }

// HostLabel is the first label of this machine's host name, the default name.
func HostLabel() (string, error) {
	h, err := os.Hostname()
	if err != nil {
		return "", fmt.Errorf("mdns: host name: %w", err)
	}
	h, _, _ = strings.Cut(h, ".")
	if msg := checkLabel(h); msg != "" {
		return "", fmt.Errorf("mdns: host name: %s; set mdns.name", msg)
	}
	return h, nil
}

// checkLabel says what is wrong with s as a host label, or "".
func checkLabel(s string) string {
	ok := s != "" && len(s) <= 63 && s[0] != '-' && s[len(s)-1] != '-'
	for i := 0; ok && i < len(s); i++ {
		c := s[i]
		ok = c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-'
	}
	if !ok {
		return fmt.Sprintf("%q is not a host label: want letters, digits and '-', at most 63", s)
	}
	return ""
}

// zone is the records, rebuilt when the machine's addresses change.
type zone struct {
	o     Opts
	addrs func() []net.IP

	mu    sync.Mutex
	read  time.Time // when addrs was last asked
	ips   []net.IP
	svc   *hmdns.MDNSService
	names []string // the names svc answers for, as the library compares them
}

// Records answers one question. Names in DNS are case-insensitive and a
// resolver may ask in any case; the library compares exactly, so the question
// is put in the case the records use.
func (z *zone) Records(q dns.Question) []dns.RR {
	svc, err := z.service()
	if err != nil {
		return nil
	}
	for _, n := range z.names {
		if strings.EqualFold(q.Name, n) {
			q.Name = n
			break
		}
	}
	return svc.Records(q)
}

// service is the records for the addresses the machine has now.
func (z *zone) service() (*hmdns.MDNSService, error) {
	z.mu.Lock()
	defer z.mu.Unlock()
	if z.svc != nil && time.Since(z.read) < addrsEvery {
		return z.svc, nil
	}
	z.read = time.Now()
	ips := z.addrs()
	if z.svc != nil && slices.EqualFunc(ips, z.ips, net.IP.Equal) {
		return z.svc, nil
	}
	host := z.o.Name + ".local."
	// The instance label holds spaces; the library compares names as
	// miekg/dns writes them, with a space escaped.
	instance := strings.ReplaceAll(InstanceName(z.o.Name), " ", `\ `)
	txt := []string{"path=/", "announce=" + z.o.Announce}
	// With no address yet (no lease), the library would look the name up in
	// DNS; an unroutable placeholder keeps SRV and TXT answered until one comes.
	lookup := ips
	if len(lookup) == 0 {
		lookup = []net.IP{net.IPv4zero}
	}
	svc, err := hmdns.NewMDNSService(instance, Service, "local.", host, z.o.Port, lookup, txt)
	if err != nil {
		return nil, fmt.Errorf("mdns: records: %w", err)
	}
	if len(ips) == 0 {
		svc.IPs = nil
	}
	z.svc, z.ips = svc, ips
	z.names = []string{
		"_services._dns-sd._udp.local.",
		Service + ".local.",
		instance + "." + Service + ".local.",
		host,
	}
	return svc, nil
}

// hostAddrs is the machine's addresses a LAN host can reach: all but loopback.
func hostAddrs() []net.IP {
	ifaddrs, err := net.InterfaceAddrs()
	if err != nil {
		return nil
	}
	var ips []net.IP
	for _, ia := range ifaddrs {
		ipn, ok := ia.(*net.IPNet)
		if !ok || ipn.IP.IsLoopback() {
			continue
		}
		ips = append(ips, ipn.IP)
	}
	return ips
}
