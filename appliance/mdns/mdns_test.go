package mdns

import (
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// TestRecords asks the zone each question a browser or resolver asks, through
// the wire format both ways (as the server unpacks a query and packs its reply),
// in the case the resolver chose.
func TestRecords(t *testing.T) {
	addrs := []net.IP{net.ParseIP("10.0.0.5"), net.ParseIP("fd00::5")}
	z := &zone{o: Opts{Name: "Box-1", Port: 6969, Announce: "/announce"}, addrs: func() []net.IP { return addrs }}
	const (
		inst = `swarmlight\ on\ Box-1._http._tcp.local.`
		srv  = "10 1 6969 Box-1.local."
		txt  = `"path=/" "announce=/announce"`
	)
	for _, tc := range []struct {
		name  string
		qtype uint16
		want  []string // each answer as miekg/dns prints it, without the header
	}{
		// The PTR comes with what resolving it takes: one round trip.
		{"_http._tcp.local.", dns.TypePTR, []string{inst, srv, "10.0.0.5", "fd00::5", txt}},
		{"_HTTP._TCP.Local.", dns.TypePTR, []string{inst, srv, "10.0.0.5", "fd00::5", txt}},
		{"_services._dns-sd._udp.local.", dns.TypePTR, []string{"_http._tcp.local."}},
		{inst, dns.TypeSRV, []string{srv, "10.0.0.5", "fd00::5"}},
		{strings.ToLower(inst), dns.TypeTXT, []string{txt}},
		{"box-1.local.", dns.TypeA, []string{"10.0.0.5"}},
		{"BOX-1.local.", dns.TypeAAAA, []string{"fd00::5"}},
		{"box-2.local.", dns.TypeA, nil},
		{"_ssh._tcp.local.", dns.TypePTR, nil},
	} {
		t.Run(dns.TypeToString[tc.qtype]+" "+tc.name, func(t *testing.T) {
			if got := ask(t, z, tc.name, tc.qtype); !slices.Equal(got, tc.want) {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

// TestRecordsFollowAddresses: a lease that changes after start is answered
// with the new address once the addresses are read again.
func TestRecordsFollowAddresses(t *testing.T) {
	addrs := []net.IP{}
	z := &zone{o: Opts{Name: "box", Port: 6969, Announce: "/announce"}, addrs: func() []net.IP { return addrs }}
	if got := ask(t, z, "box.local.", dns.TypeA); got != nil {
		t.Fatalf("with no address: %q, want none", got)
	}
	if got := ask(t, z, "_http._tcp.local.", dns.TypePTR); len(got) != 3 {
		t.Fatalf("with no address, PTR: %q, want PTR, SRV and TXT", got)
	}
	addrs = []net.IP{net.ParseIP("192.168.1.20")}
	z.read = time.Time{} // as if addrsEvery had passed
	if got := ask(t, z, "box.local.", dns.TypeA); !slices.Equal(got, []string{"192.168.1.20"}) {
		t.Fatalf("after a lease: %q", got)
	}
}

// ask passes the question through the wire, asks z, and passes the answers
// back through the wire.
func ask(t *testing.T, z *zone, name string, qtype uint16) []string {
	t.Helper()
	q := new(dns.Msg)
	q.Question = []dns.Question{{Name: name, Qtype: qtype, Qclass: dns.ClassINET}}
	wire, err := q.Pack()
	if err != nil {
		t.Fatal(err)
	}
	if err := q.Unpack(wire); err != nil {
		t.Fatal(err)
	}
	r := &dns.Msg{MsgHdr: dns.MsgHdr{Response: true}, Answer: z.Records(q.Question[0])}
	if wire, err = r.Pack(); err != nil {
		t.Fatal(err)
	}
	if err := r.Unpack(wire); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, rr := range r.Answer {
		out = append(out, strings.TrimPrefix(rr.String(), rr.Header().String()))
	}
	return out
}

// TestStartRefusesBadInput: a bad name or port is a clear error, and nothing
// is bound.
func TestStartRefusesBadInput(t *testing.T) {
	for _, tc := range []struct {
		o    Opts
		want string
	}{
		{Opts{Name: "", Port: 6969}, "not a host label"},
		{Opts{Name: "box.local", Port: 6969}, "not a host label"},
		{Opts{Name: "-box", Port: 6969}, "not a host label"},
		{Opts{Name: strings.Repeat("a", 64), Port: 6969}, "not a host label"},
		{Opts{Name: "box", Port: 0}, "port 0 out of range"},
		{Opts{Name: "box", Port: 70000}, "port 70000 out of range"},
	} {
		r, err := Start(tc.o)
		if err == nil {
			r.Close()
			t.Errorf("%+v: started", tc.o)
			continue
		}
		if !strings.HasPrefix(err.Error(), "mdns: ") || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want an error saying %q", tc.o, err, tc.want)
		}
	}
}
