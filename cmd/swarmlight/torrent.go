package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/anacrolix/torrent/bencode"
	"github.com/anacrolix/torrent/metainfo"
	"golang.org/x/sys/unix"

	"github.com/swarmlight/swarmlight/appliance"
	"github.com/swarmlight/swarmlight/appliance/config"
	"github.com/swarmlight/swarmlight/appliance/human"
)

// torrentCmd makes a .torrent:
//
//	swarmlight torrent create PATH [-o FILE] [--private] [--announce URL ...] [--add] [flags]
func torrentCmd(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && (args[0] == "-h" || args[0] == "--help") {
		printUsage(stdout)
		return exitOK
	}
	if len(args) == 0 || args[0] != "create" {
		return usageError(stderr, "torrent needs create: swarmlight torrent create PATH")
	}
	out, announce, rest, err := torrentFlags(args[1:])
	if err != nil {
		return usageError(stderr, "torrent create: "+err.Error())
	}
	flags, operands, set, err := splitArgs(rest, "private", "add")
	if err != nil {
		return usageError(stderr, "torrent create: "+err.Error())
	}
	if len(operands) != 1 {
		return usageError(stderr, "torrent create needs one PATH, the file or folder to share")
	}
	cfg, _, status, ok := loadConfig("torrent", flags, stdout, stderr)
	if !ok {
		return status
	}
	root := operands[0]
	if out == "" {
		out = filepath.Base(filepath.Clean(root)) + ".torrent"
	}
	if len(announce) == 0 {
		announce = boxURLs(cfg)
	}
	b, mi, err := makeTorrent(root, announce, set["private"], progress(stderr))
	if err != nil {
		fmt.Fprintf(stderr, "swarmlight: torrent create: %v\n", err)
		return exitUsage
	}
	if err := writeNew(out, b); err != nil {
		fmt.Fprintf(stderr, "swarmlight: torrent create: %v\n", err)
		if errors.Is(err, os.ErrExist) {
			return exitUsage
		}
		return exitFail
	}
	info, _ := mi.UnmarshalInfo()
	fmt.Fprintf(stdout, "wrote %s: %s, %s in %d pieces, announcing to\n", out, info.BestName(), human.Bytes(info.TotalLength()), info.NumPieces())
	for _, u := range announce {
		fmt.Fprintf(stdout, "  %s\n", u)
	}
	if m, err := mi.MagnetV2(); err == nil {
		fmt.Fprintf(stdout, "magnet link: %s\n", m.String())
	}
	if set["add"] {
		return shelve(cfg, b, stdout, stderr)
	}
	return exitOK
}

// torrentFlags takes out of args the flags of torrent create that carry a
// value, -o/--output FILE and --announce URL (repeated, or comma separated),
// and returns the rest.
func torrentFlags(args []string) (out string, announce, rest []string, err error) {
	for i := 0; i < len(args); i++ {
		a := args[i]
		name, value, hasValue := strings.Cut(a, "=")
		if name != "-o" && name != "--output" && name != "--announce" {
			rest = append(rest, a)
			if a == "--" {
				rest = append(rest, args[i+1:]...)
				break
			}
			continue
		}
		if !hasValue {
			if i+1 >= len(args) {
				return "", nil, nil, fmt.Errorf("%s needs a value", name)
			}
			i++
			value = args[i]
		}
		if name == "--announce" {
			for _, u := range strings.Split(value, ",") {
				if u = strings.TrimSpace(u); u != "" {
					if err := checkAnnounceURL(u); err != nil {
						return "", nil, nil, err
					}
					announce = append(announce, u)
				}
			}
			continue
		}
		out = value
	}
	return out, announce, rest, nil
}

func checkAnnounceURL(u string) error {
	if !strings.HasPrefix(u, "http://") && !strings.HasPrefix(u, "https://") && !strings.HasPrefix(u, "udp://") {
		return fmt.Errorf("--announce %q: want an http://, https:// or udp:// URL", u)
	}
	return nil
}

// boxURLs are this box's announce URLs, HTTP then UDP, one per address a listen
// address covers, as the tracker prints them; loopback ones only when there is
// nothing else, since another machine cannot reach this one by them.
func boxURLs(cfg config.Config) []string {
	var lan, loop []string
	seen := map[string]bool{}
	for _, l := range []struct {
		scheme string
		addrs  []string
	}{{"http", cfg.HTTP.Listen}, {"udp", cfg.UDP.Listen}} {
		for _, addr := range l.addrs {
			host, port, err := net.SplitHostPort(addr)
			if err != nil {
				continue
			}
			var hosts []netip.Addr
			a, err := netip.ParseAddr(host)
			switch {
			case host == "" || (err == nil && a.IsUnspecified()):
				hosts = appliance.LocalAddrs(err == nil && a.Is4())
			case err == nil:
				hosts = []netip.Addr{a}
			}
			for _, h := range hosts {
				u := l.scheme + "://" + net.JoinHostPort(h.String(), port) + "/announce"
				if seen[u] {
					continue
				}
				seen[u] = true
				if h.IsLoopback() {
					loop = append(loop, u)
				} else {
					lan = append(lan, u)
				}
			}
		}
	}
	if len(lan) > 0 {
		return lan
	}
	return loop
}

// makeTorrent hashes the file or folder at root into a v1 torrent announcing to
// urls (one tier: a client tries them in turn). It lays out the files as
// metainfo's BuildFromFilePath does, but reads them itself so that it can say
// how far it has got.
func makeTorrent(root string, urls []string, private bool, report func(done, total int64)) ([]byte, *metainfo.MetaInfo, error) {
	info, err := layout(root)
	if err != nil {
		return nil, nil, err
	}
	total := info.TotalLength()
	info.PieceLength = metainfo.ChoosePieceLength(total)
	var done int64
	err = info.GeneratePieces(func(fi metainfo.FileInfo) (io.ReadCloser, error) {
		path := root
		if len(fi.Path) > 0 {
			path = filepath.Join(root, filepath.Join(fi.Path...))
		}
		f, err := os.Open(path)
		if err != nil {
			return nil, err
		}
		return &counting{f: f, n: &done, total: total, report: report}, nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("hashing: %w", err)
	}
	report(total, total)
	if private {
		info.Private = &private
	}
	mi := &metainfo.MetaInfo{CreatedBy: "swarmlight " + version, CreationDate: time.Now().Unix()}
	if len(urls) > 0 {
		mi.Announce = urls[0]
		mi.AnnounceList = [][]string{urls}
	}
	if mi.InfoBytes, err = bencode.Marshal(info); err != nil {
		return nil, nil, fmt.Errorf("encoding: %w", err)
	}
	var buf bytes.Buffer
	if err := mi.Write(&buf); err != nil {
		return nil, nil, fmt.Errorf("encoding: %w", err)
	}
	return buf.Bytes(), mi, nil
}

// layout is the info dictionary's name and files for root, without the piece
// hashes, as BuildFromFilePath lays them out.
func layout(root string) (*metainfo.Info, error) {
	info := &metainfo.Info{Name: filepath.Base(filepath.Clean(root))}
	err := filepath.Walk(root, func(path string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if fi.Mode()&os.ModeSymlink != 0 {
			if fi, err = os.Stat(path); err != nil {
				return err
			}
			if !fi.Mode().IsRegular() {
				return fmt.Errorf("%s: a link to something other than a file", path)
			}
		}
		switch {
		case fi.IsDir():
			return nil
		case path == root:
			info.Length = fi.Size()
			return nil
		}
		rel, err := filepath.Rel(root, path)
		if err != nil {
			return err
		}
		info.Files = append(info.Files, metainfo.FileInfo{Path: strings.Split(rel, string(filepath.Separator)), Length: fi.Size()})
		return nil
	})
	if err != nil {
		return nil, err
	}
	sort.Slice(info.Files, func(i, j int) bool {
		return strings.Join(info.Files[i].Path, "/") < strings.Join(info.Files[j].Path, "/")
	})
	if info.TotalLength() == 0 {
		return nil, fmt.Errorf("%s: nothing to share (no bytes)", root)
	}
	return info, nil
}

// counting is a file being hashed, telling report how many bytes of all have
// been read.
type counting struct {
	f      *os.File
	n      *int64
	total  int64
	report func(done, total int64)
}

func (c *counting) Read(p []byte) (int, error) {
	n, err := c.f.Read(p)
	*c.n += int64(n)
	c.report(*c.n, c.total)
	return n, err
}

func (c *counting) Close() error { return c.f.Close() }

// progress reports hashing progress on stderr: a bar redrawn in place on a
// terminal, otherwise a line at each tenth, so a log stays short.
func progress(stderr io.Writer) func(done, total int64) {
	f, ok := stderr.(*os.File)
	tty := false
	if ok {
		_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
		tty = err == nil
	}
	last := -1
	return func(done, total int64) {
		pct := 100
		if total > 0 {
			pct = int(done * 100 / total)
		}
		if tty {
			if pct == last {
				return
			}
			last = pct
			const width = 30
			bar := strings.Repeat("#", pct*width/100) + strings.Repeat(".", width-pct*width/100)
			// \x1b[K clears what a longer line before left.
			fmt.Fprintf(stderr, "\rhashing [%s] %3d%% %s of %s\x1b[K", bar, pct, human.Bytes(done), human.Bytes(total))
			if pct == 100 {
				fmt.Fprintln(stderr)
			}
			return
		}
		if tenth := pct / 10; tenth != last {
			last = tenth
			fmt.Fprintf(stderr, "hashing: %d%%\n", tenth*10)
		}
	}
}

// writeNew writes b to path, which must not exist yet: a .torrent already there
// may be one that is shared, and is never overwritten.
func writeNew(path string, b []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		if errors.Is(err, os.ErrExist) {
			return fmt.Errorf("%s already exists; remove it first, or give another with -o: %w", path, err)
		}
		return err
	}
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
	}
	return err
}
