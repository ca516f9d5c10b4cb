package access

import (
	"context"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// files is a directory with an allow list, a deny list and a key file.
type files struct {
	dir                   string
	allow, deny, keys     string
	listed, denied        [20]byte // in the allow list; in the deny list
	other                 [20]byte // in neither
	aliceKey, strangerKey string
}

func newFiles(t *testing.T) *files {
	t.Helper()
	f := &files{dir: t.TempDir()}
	f.allow = filepath.Join(f.dir, "allow.list")
	f.deny = filepath.Join(f.dir, "deny.list")
	f.keys = filepath.Join(f.dir, "passkeys")
	f.listed, f.denied, f.other = [20]byte{1}, [20]byte{2}, [20]byte{3}
	f.aliceKey, f.strangerKey = Generate(), Generate()
	write(t, f.allow, "# ours\n"+hexOf(f.listed)+"\n")
	write(t, f.deny, hexOf(f.denied)+"\n")
	write(t, f.keys, Member{"alice", Digest(f.aliceKey)}.String()+"\n")
	return f
}

func (f *files) opts(mode string, clients ...string) Opts {
	m, err := ParseMode(mode)
	if err != nil {
		panic(err)
	}
	c, err := ParseClients(clients)
	if err != nil {
		panic(err)
	}
	return Opts{Mode: m, AllowFile: f.allow, DenyFile: f.deny, KeyFile: f.keys, Clients: c}
}

func write(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

func hexOf(h [20]byte) string { return hex.EncodeToString(h[:]) }

func key(s string) *Key {
	var k Key
	k.Set(s)
	return &k
}

func peerID(s string) *[20]byte {
	var id [20]byte
	copy(id[:], s)
	return &id
}

func TestCheckAnnounce(t *testing.T) {
	f := newFiles(t)
	qb, tr := peerID("-qB5000-abcdefghijkl"), peerID("-TR4000-abcdefghijkl")
	type check struct {
		h    [20]byte
		key  string
		id   *[20]byte
		want error
	}
	tests := []struct {
		mode    string
		clients []string
		checks  []check
	}{
		{"open", nil, []check{
			{f.other, "", qb, nil},
			{f.denied, f.strangerKey, tr, nil},
		}},
		{"listed", nil, []check{
			{f.listed, "", qb, nil},
			{f.other, "", qb, ErrNotTracked},
			{f.denied, "", qb, ErrNotTracked},
		}},
		{"unlisted", nil, []check{
			{f.listed, "", qb, nil},
			{f.other, "", qb, nil},
			{f.denied, "", qb, ErrNotTracked},
		}},
		{"private", nil, []check{
			{f.other, f.aliceKey, qb, nil},
			{f.other, f.strangerKey, qb, ErrKey},
			{f.other, "", qb, ErrKey},
		}},
		{"private+listed", nil, []check{
			{f.listed, f.aliceKey, qb, nil},
			{f.other, f.aliceKey, qb, ErrNotTracked},
			{f.other, "", qb, ErrKey}, // the key first: a stranger learns nothing of the list
		}},
		{"private+unlisted", nil, []check{
			{f.other, f.aliceKey, qb, nil},
			{f.denied, f.aliceKey, qb, ErrNotTracked},
		}},
		{"private+listed", []string{"-TR"}, []check{
			{f.listed, f.aliceKey, tr, nil},
			{f.listed, f.aliceKey, qb, ErrClient},
			{f.other, "", qb, ErrClient}, // the client first of all
		}},
		{"open", []string{"!-qB"}, []check{
			{f.other, "", qb, ErrClient},
			{f.other, "", tr, nil},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.mode+strings.Join(tt.clients, ","), func(t *testing.T) {
			c := New()
			if err := c.Apply(f.opts(tt.mode, tt.clients...)); err != nil {
				t.Fatal(err)
			}
			for i, ch := range tt.checks {
				if err := c.CheckAnnounce(&ch.h, key(ch.key), ch.id); err != ch.want {
					t.Errorf("check %d: %v, want %v", i, err, ch.want)
				}
				m := c.Stats().Mode
				wantScrape := error(nil)
				if m.Private && ch.key != f.aliceKey {
					wantScrape = ErrKey
				}
				if err := c.CheckScrape(key(ch.key)); err != wantScrape {
					t.Errorf("check %d: scrape %v, want %v", i, err, wantScrape)
				}
			}
		})
	}
}

// TestApplyBadFile: a missing or bad file keeps what that part held (nothing, at
// the first Apply) and is reported by path and line number; the rest applies.
func TestApplyBadFile(t *testing.T) {
	f := newFiles(t)
	c := New()

	missing := f.opts("private+listed")
	missing.AllowFile = filepath.Join(f.dir, "nope.list")
	err := c.Apply(missing)
	if err == nil || !strings.Contains(err.Error(), "nope.list") {
		t.Fatalf("missing allow list: %v, want an error naming it", err)
	}
	if c.Tracked(&f.listed) {
		t.Fatal("listed mode with no list tracks a torrent")
	}
	if c.CheckScrape(key(f.aliceKey)) != nil {
		t.Fatal("the key file, which is fine, was not loaded")
	}

	if err := c.Apply(f.opts("private+listed")); err != nil {
		t.Fatal(err)
	}
	write(t, f.allow, hexOf(f.other)+"\n\nnot a hash\n")
	write(t, f.keys, "alice\n")
	err = c.Reload()
	for _, want := range []string{f.allow + " line 3", f.keys + " line 1"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("reload of bad files: %v, want it to name %q", err, want)
		}
	}
	if strings.Contains(err.Error(), "not a hash") {
		t.Fatalf("error %q repeats the line", err)
	}
	if !c.Tracked(&f.listed) || c.Tracked(&f.other) || c.CheckScrape(key(f.aliceKey)) != nil {
		t.Fatal("a bad file replaced what was loaded")
	}
	if s := c.Stats(); s.Allow != 1 || s.Keys != 1 || s.Deny != 0 {
		t.Fatalf("stats %+v", s)
	}

	// A mode that no longer needs a file drops it.
	if err := c.Apply(f.opts("open")); err != nil {
		t.Fatal(err)
	}
	if s := c.Stats(); s.Allow != 0 || s.Keys != 0 {
		t.Fatalf("open mode still holds %+v", s)
	}
}

// TestWatch edits the files as the CLI and an editor do and waits, bounded, for
// the running policy to follow: a revoked key must stop working within seconds.
func TestWatch(t *testing.T) {
	f := newFiles(t)
	c := New()
	armed := make(chan struct{}, 10)
	c.armed = armed
	if err := c.Apply(f.opts("private+listed")); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	reports := make(chan error, 100)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); c.Watch(ctx, func(err error) { reports <- err }) }()
	defer wg.Wait()
	defer cancel()
	waitArmed := func() {
		t.Helper()
		select {
		case <-armed:
		case <-time.After(2 * time.Second):
			t.Fatal("the watcher did not arm within 2 s")
		}
	}
	waitArmed()
	drain(reports)

	within := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(2 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("%s: not seen within 2 s", what)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	alice := key(f.aliceKey)

	if err := RevokeMember(f.keys, "alice"); err != nil {
		t.Fatal(err)
	}
	within("revoked key refused", func() bool { return c.CheckScrape(alice) == ErrKey })

	// An editor that writes elsewhere and renames over the file.
	tmp := filepath.Join(f.dir, ".allow.list.swp")
	write(t, tmp, hexOf(f.other)+"\n")
	if err := os.Rename(tmp, f.allow); err != nil {
		t.Fatal(err)
	}
	within("renamed list loaded", func() bool { return c.Tracked(&f.other) && !c.Tracked(&f.listed) })

	// A bad edit is reported and keeps the list.
	drain(reports)
	write(t, f.allow, "junk\n")
	select {
	case err := <-reports:
		if err == nil || !strings.Contains(err.Error(), "line 1") {
			t.Fatalf("report %v, want the bad line", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("bad edit not reported within 2 s")
	}
	if !c.Tracked(&f.other) {
		t.Fatal("a bad edit replaced the list")
	}

	// Apply moves the key file to another directory: the watcher follows.
	write(t, f.allow, hexOf(f.other)+"\n")
	o := f.opts("private+listed")
	o.KeyFile = filepath.Join(t.TempDir(), "passkeys")
	write(t, o.KeyFile, "")
	drainArmed(armed)
	if err := c.Apply(o); err != nil {
		t.Fatal(err)
	}
	waitArmed()
	if err := AddMember(o.KeyFile, "alice", Digest(f.aliceKey)); err != nil {
		t.Fatal(err)
	}
	within("key added to the moved file", func() bool { return c.CheckScrape(alice) == nil })
}

func drainArmed(ch chan struct{}) {
	for {
		select {
		case <-ch:
		default:
			return
		}
	}
}

func drain(ch chan error) {
	for {
		select {
		case <-ch:
		default:
			return
		}
	}
}

// TestChecksAllocateNothing: the checks run on every announce.
func TestChecksAllocateNothing(t *testing.T) {
	f := newFiles(t)
	c := New()
	if err := c.Apply(f.opts("private+listed", "-qB", "-TR")); err != nil {
		t.Fatal(err)
	}
	c.SetPublished([][20]byte{{9}})
	k, id := key(f.aliceKey), peerID("-TR4000-abcdefghijkl")
	pub := [20]byte{9}
	tests := []struct {
		name string
		fn   func()
	}{
		{"CheckAnnounce", func() { c.CheckAnnounce(&f.listed, k, id) }},
		{"CheckAnnounce published", func() { c.CheckAnnounce(&pub, k, id) }},
		{"CheckAnnounce refused", func() { c.CheckAnnounce(&f.other, k, id) }},
		{"CheckScrape", func() { c.CheckScrape(k) }},
		{"Tracked", func() { c.Tracked(&f.listed) }},
		{"Key.Set", func() { k.Set(f.aliceKey) }},
	}
	for _, tt := range tests {
		if n := testing.AllocsPerRun(100, tt.fn); n != 0 {
			t.Errorf("%s: %v allocations, want 0", tt.name, n)
		}
	}
}

// TestPublished: the shelf's torrents are tracked in listed mode beside the
// allow list, survive a re-read of the lists, and stop being tracked when taken
// off; no other mode's answer changes.
func TestPublished(t *testing.T) {
	f := newFiles(t)
	pub := [20]byte{7}
	tests := []struct {
		mode       string
		before     bool // pub tracked before SetPublished
		after      bool // pub tracked after SetPublished
		deniedWhen bool // f.denied tracked after SetPublished
	}{
		{"listed", false, true, false},
		{"open", true, true, true},
		{"unlisted", true, true, false},
		{"private+listed", false, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.mode, func(t *testing.T) {
			c := New()
			if err := c.Apply(f.opts(tt.mode)); err != nil {
				t.Fatal(err)
			}
			if got := c.Tracked(&pub); got != tt.before {
				t.Errorf("before: Tracked = %v, want %v", got, tt.before)
			}
			c.SetPublished([][20]byte{pub})
			if got := c.Tracked(&pub); got != tt.after {
				t.Errorf("after: Tracked = %v, want %v", got, tt.after)
			}
			if got := c.Tracked(&f.denied); got != tt.deniedWhen {
				t.Errorf("a denied hash: Tracked = %v, want %v", got, tt.deniedWhen)
			}
			// A re-read of the files, or a new Apply, keeps the shelf's set.
			if err := c.Reload(); err != nil {
				t.Fatal(err)
			}
			if err := c.Apply(f.opts(tt.mode)); err != nil {
				t.Fatal(err)
			}
			if got := c.Tracked(&pub); got != tt.after {
				t.Errorf("after a reload: Tracked = %v, want %v", got, tt.after)
			}
			c.SetPublished(nil)
			if got := c.Tracked(&pub); got != tt.before {
				t.Errorf("taken off: Tracked = %v, want %v", got, tt.before)
			}
		})
	}
}

// TestConcurrent checks while the files are re-read, for the race detector.
func TestConcurrent(t *testing.T) {
	f := newFiles(t)
	c := New()
	if err := c.Apply(f.opts("private+listed")); err != nil {
		t.Fatal(err)
	}
	k, id := key(f.aliceKey), peerID("-TR4000-abcdefghijkl")
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				if err := c.CheckAnnounce(&f.listed, k, id); err != nil && !errors.Is(err, ErrKey) {
					t.Errorf("check: %v", err)
					return
				}
				c.Stats()
			}
		}()
	}
	for i := range 20 {
		mode := []string{"private+listed", "listed"}[i%2]
		if err := c.Apply(f.opts(mode)); err != nil {
			t.Fatal(err)
		}
		if err := c.Reload(); err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	wg.Wait()
}

// BenchmarkCheckAnnounce is the whole check of a private+listed announce with a
// client list: the key's SHA-256 is most of it.
func BenchmarkCheckAnnounce(b *testing.B) {
	dir := b.TempDir()
	aliceKey := Generate()
	o := Opts{Mode: Mode{List: Listed, Private: true}, AllowFile: filepath.Join(dir, "allow"), KeyFile: filepath.Join(dir, "keys")}
	o.Clients, _ = ParseClients([]string{"-qB", "-TR", "-lt"})
	h := [20]byte{9}
	os.WriteFile(o.AllowFile, []byte(hexOf(h)+"\n"), 0o644)
	os.WriteFile(o.KeyFile, []byte(Member{"alice", Digest(aliceKey)}.String()+"\n"), 0o644)
	c := New()
	if err := c.Apply(o); err != nil {
		b.Fatal(err)
	}
	k, id := key(aliceKey), peerID("-lt0D60-abcdefghijkl")
	b.ReportAllocs()
	for b.Loop() {
		if err := c.CheckAnnounce(&h, k, id); err != nil {
			b.Fatal(err)
		}
	}
}
