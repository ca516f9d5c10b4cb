package access

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fsnotify/fsnotify"
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
	// Cleared whole, so that two Keys holding the same text compare equal.
	*k = Key{}
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

// debounce is how long the watcher waits after the last change to a file before
// re-reading it: an editor's write, rename and chmod come as one re-read, and a
// revoked key still stops working well within a second.
const debounce = 150 * time.Millisecond

// Control is the access policy in force. Every method is safe for concurrent use;
// the checks read one immutable snapshot, which Apply, Reload and Watch replace
// whole.
type Control struct {
	cur atomic.Pointer[policy]
	// mu serialises the writers, so a re-read by the watcher cannot put back a
	// policy that Apply has just replaced.
	mu sync.Mutex
	// moved tells Watch that Apply may have changed which files to watch.
	moved chan struct{}
	// armed, when set (by tests), is told each time Watch has (re)armed, so a test
	// edits a file only once the edit can be seen.
	armed chan<- struct{}
}

// policy is one snapshot. A list or key set the mode does not use is nil, so a
// million-entry list is freed when the mode stops needing it.
type policy struct {
	opts  Opts
	allow *Hashes
	deny  *Hashes
	keys  *Keys
	// published is the shelf's torrents (SetPublished): in listed mode they are
	// tracked as if in the allow list, without the operator editing that file.
	published *Hashes
}

// part is one of the files a policy may load, as a bit so the watcher can collect
// which ones changed.
type part uint8

const (
	partAllow part = 1 << iota
	partDeny
	partKeys
	allParts = partAllow | partDeny | partKeys
)

// needs is the parts o's mode reads.
func (o *Opts) needs() part {
	var p part
	switch o.Mode.List {
	case Listed:
		p |= partAllow
	case Unlisted:
		p |= partDeny
	}
	if o.Mode.Private {
		p |= partKeys
	}
	return p
}

// files maps each file o's mode reads to its part.
func (o *Opts) files() map[string]part {
	m := map[string]part{}
	add := func(p part, path string) {
		if o.needs()&p != 0 && path != "" {
			m[filepath.Clean(path)] |= p
		}
	}
	add(partAllow, o.AllowFile)
	add(partDeny, o.DenyFile)
	add(partKeys, o.KeyFile)
	return m
}

// New returns a Control in open mode: every torrent, every client, no key.
func New() *Control {
	c := &Control{moved: make(chan struct{}, 1)}
	c.cur.Store(&policy{})
	return c
}

// Apply makes o the policy, loading the files its mode needs: the allow list in
// listed mode, the deny list in unlisted mode, the key file in private mode. A file
// that is missing or bad keeps what that part held before (at the first Apply:
// nothing, so listed mode tracks no torrent and private mode admits no one) and is
// returned as an error naming the file and, for a bad line, its number. The rest
// of o applies regardless.
func (c *Control) Apply(o Opts) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	err := c.load(o, allParts)
	select {
	case c.moved <- struct{}{}:
	default:
	}
	return err
}

// Reload re-reads the files of the policy in force.
func (c *Control) Reload() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.load(c.cur.Load().opts, allParts)
}

// reread re-reads the parts that changed on disk.
func (c *Control) reread(parts part) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.load(c.cur.Load().opts, parts)
}

// load makes o the policy, reading the parts of it in read that o needs and keeping
// the others as they are. c.mu is held.
func (c *Control) load(o Opts, read part) error {
	old := c.cur.Load()
	need := o.needs()
	p := &policy{opts: o, published: old.published}
	var errs []error
	if need&partAllow != 0 {
		p.allow = loadPart(old.allow, read&partAllow != 0, LoadHashes, o.AllowFile, "allow list", &errs)
	}
	if need&partDeny != 0 {
		p.deny = loadPart(old.deny, read&partDeny != 0, LoadHashes, o.DenyFile, "deny list", &errs)
	}
	if need&partKeys != 0 {
		p.keys = loadPart(old.keys, read&partKeys != 0, LoadKeys, o.KeyFile, "key file", &errs)
	}
	c.cur.Store(p)
	return errors.Join(errs...)
}

// loadPart is the part read from path when read is set and the file loads, and
// old otherwise; a file that does not load adds its error to errs.
func loadPart[T any](old *T, read bool, load func(string) (*T, error), path, what string, errs *[]error) *T {
	if !read {
		return old
	}
	v, err := load(path)
	if err != nil {
		*errs = append(*errs, fmt.Errorf("access: %s: %w", what, err))
		return old
	}
	return v
}

// SetPublished makes hs the published torrents, which listed mode tracks
// alongside its allow list: putting a torrent on the shelf is what makes it
// announceable, and taking it off stops that. It replaces the previous set.
func (c *Control) SetPublished(hs [][20]byte) {
	set := NewHashes(hs)
	c.mu.Lock()
	defer c.mu.Unlock()
	p := *c.cur.Load()
	p.published = set
	c.cur.Store(&p)
}

// Watch re-reads the policy's files whenever one changes, until ctx is done, and
// reports each outcome: nil once a change loaded, the problem when it did not. It
// watches the files' directories, not the files, so an editor that writes a new
// file and renames it over the old one is seen, and a file deleted and made again
// is found. Run one Watch per Control.
func (c *Control) Watch(ctx context.Context, report func(error)) {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		report(fmt.Errorf("access: watching the list and key files: %w", err))
		<-ctx.Done()
		return
	}
	defer w.Close()

	dirs := map[string]bool{}
	var files map[string]part
	arm := func() {
		files = c.cur.Load().opts.files()
		// A file that is a symbolic link changes where it points to, too.
		for f, p := range files {
			if r, err := filepath.EvalSymlinks(f); err == nil && r != f {
				files[r] |= p
			}
		}
		want := map[string]bool{}
		for f := range files {
			want[filepath.Dir(f)] = true
		}
		for d := range dirs {
			if !want[d] {
				w.Remove(d)
				delete(dirs, d)
			}
		}
		for d := range want {
			if dirs[d] {
				continue
			}
			if err := w.Add(d); err != nil {
				report(fmt.Errorf("access: watching %s: %w", d, err))
				continue
			}
			dirs[d] = true
		}
		if c.armed != nil {
			c.armed <- struct{}{}
		}
	}
	arm()

	timer := time.NewTimer(time.Hour)
	timer.Stop()
	var changed part
	for {
		select {
		case <-ctx.Done():
			timer.Stop()
			return
		case <-c.moved:
			arm()
		case ev, ok := <-w.Events:
			if !ok {
				return
			}
			p := files[filepath.Clean(ev.Name)]
			if p == 0 || ev.Op == fsnotify.Chmod {
				continue
			}
			changed |= p
			timer.Reset(debounce)
		case err, ok := <-w.Errors:
			if !ok {
				return
			}
			report(fmt.Errorf("access: watching the list and key files: %w", err))
			// Events may have been lost (an overflow): read everything again.
			changed = allParts
			timer.Reset(debounce)
		case <-timer.C:
			err := c.reread(changed)
			changed = 0
			report(err)
		}
	}
}

// CheckAnnounce says whether an announce for h, with key, from a client whose
// peer_id is id, may go on: nil, or ErrClient, ErrKey or ErrNotTracked, checked in
// that order. It allocates nothing.
func (c *Control) CheckAnnounce(h *[20]byte, key *Key, id *[20]byte) error {
	p := c.cur.Load()
	if !p.opts.Clients.Allowed(id) {
		return ErrClient
	}
	if p.opts.Mode.Private && !p.keys.Has(key) {
		return ErrKey
	}
	if !p.tracked(h) {
		return ErrNotTracked
	}
	return nil
}

// CheckScrape says whether a scrape with key may go on: nil or ErrKey.
func (c *Control) CheckScrape(key *Key) error {
	p := c.cur.Load()
	if p.opts.Mode.Private && !p.keys.Has(key) {
		return ErrKey
	}
	return nil
}

// Tracked reports whether h is tracked in the list mode in force (a scrape of an
// untracked torrent is answered with zero counts).
func (c *Control) Tracked(h *[20]byte) bool { return c.cur.Load().tracked(h) }

func (p *policy) tracked(h *[20]byte) bool {
	switch p.opts.Mode.List {
	case Listed:
		return p.allow.Has(h) || p.published.Has(h)
	case Unlisted:
		return !p.deny.Has(h)
	}
	return true
}

// Stats returns the sizes of the policy in force.
func (c *Control) Stats() Stats {
	p := c.cur.Load()
	return Stats{Mode: p.opts.Mode, Allow: p.allow.Len(), Deny: p.deny.Len(), Keys: p.keys.Len()}
}
