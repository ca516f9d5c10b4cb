package access

import (
	"context"
	"errors"
	"sync/atomic"
)

// Refusals, each a fixed phrase that names nothing from the request.
var (
	ErrNotTracked = errors.New("torrent not tracked here")
	ErrKey        = errors.New("missing or invalid passkey")
	ErrClient     = errors.New("client not allowed here")
)

// MaxKeyLen is the longest passkey read from a request; anything longer is no key.
const MaxKeyLen = 64

// Key is a passkey as a request presented it, in a fixed array so that parsing
// and checking it allocate nothing. The zero Key is "no key".
type Key struct {
	n uint8
	b [MaxKeyLen]byte
}

// Set stores s as the key. It reports false, leaving an empty key, when s is
// empty, longer than MaxKeyLen, or holds anything but letters and digits.
func (k *Key) Set(s string) bool {
	k.n = 0
	if len(s) == 0 || len(s) > MaxKeyLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return false
		}
	}
	k.n = uint8(copy(k.b[:], s))
	return true
}

// Len is the key's length; 0 means no key.
func (k *Key) Len() int { return int(k.n) }

// Opts are the access part of the configuration.
type Opts struct {
	Mode      Mode
	AllowFile string
	DenyFile  string
	KeyFile   string
	Clients   Clients
}

// Stats are the sizes of what is loaded: no entry, key or label, only counts.
type Stats struct {
	Mode  Mode
	Allow int // info-hashes in the allow list (listed mode)
	Deny  int // info-hashes in the deny list (unlisted mode)
	Keys  int // passkeys (private mode)
}

// Control is the access policy in force. Every method is safe for concurrent use;
// the checks read one immutable snapshot, which Apply, Reload and Watch replace
// whole.
type Control struct {
	cur atomic.Pointer[policy]
}

// policy is one snapshot.
type policy struct {
	opts Opts
}

// New returns a Control in open mode: every torrent, every client, no key.
func New() *Control {
	c := &Control{}
	c.cur.Store(&policy{})
	return c
}

// Apply makes o the policy, loading the files its mode needs.
// TODO(access): load the files; keep the previous list on a bad file.
func (c *Control) Apply(o Opts) error {
	c.cur.Store(&policy{opts: o})
	return nil
}

// Reload re-reads the files of the policy in force.
func (c *Control) Reload() error { return nil }

// Watch re-reads the policy's files whenever one changes, until ctx is done, and
// reports each outcome: nil once a change loaded, the problem when it did not.
func (c *Control) Watch(ctx context.Context, report func(error)) { <-ctx.Done() }

// CheckAnnounce says whether an announce for h, with key, from a client whose
// peer_id is id, may go on: nil, or ErrClient, ErrKey or ErrNotTracked.
func (c *Control) CheckAnnounce(h *[20]byte, key *Key, id *[20]byte) error {
	p := c.cur.Load()
	if !p.opts.Clients.Allowed(id) {
		return ErrClient
	}
	return nil
}

// CheckScrape says whether a scrape with key may go on: nil or ErrKey.
func (c *Control) CheckScrape(key *Key) error { return nil }

// Tracked reports whether h is tracked in the list mode in force (a scrape of an
// untracked torrent is answered with zero counts).
func (c *Control) Tracked(h *[20]byte) bool { return true }

// Stats returns the sizes of the policy in force.
func (c *Control) Stats() Stats { return Stats{Mode: c.cur.Load().opts.Mode} }
