//go:build soak && linux

package soak

import (
	"bufio"
	"fmt"
	"io"
	"regexp"
	"strings"
	"testing"
)

// What "nothing is written" means, as system calls: no file is opened for
// writing or created, no name is added, removed, renamed or re-moded, and no
// data goes to a file — only to pipes (the log), sockets (the answers), eventfds
// and character devices that are not disks. The list is what strace traces.
var straceSyscalls = []string{
	"%file", // every call that takes a path: open*, creat, mkdir*, unlink*, rename*, ...
	"write", "pwrite64", "writev", "pwritev", "pwritev2",
	"sendfile", "copy_file_range", "splice", "tee", "vmsplice",
	"ftruncate", "fallocate", "fchmod", "fchown", "fsetxattr", "fremovexattr",
	"mmap", "msync", "io_uring_setup",
}

// Calls that change a file system whatever their arguments.
var changesNames = map[string]bool{
	"creat": true, "mkdir": true, "mkdirat": true, "rmdir": true,
	"unlink": true, "unlinkat": true, "rename": true, "renameat": true, "renameat2": true,
	"link": true, "linkat": true, "symlink": true, "symlinkat": true,
	"mknod": true, "mknodat": true, "truncate": true,
	"chmod": true, "fchmodat": true, "fchmodat2": true, "chown": true, "lchown": true, "fchownat": true,
	"utime": true, "utimes": true, "utimensat": true, "futimesat": true,
	"setxattr": true, "lsetxattr": true, "removexattr": true, "lremovexattr": true,
	"mount": true, "umount2": true, "swapon": true, "acct": true,
	"copy_file_range": true, "io_uring_setup": true,
}

// Calls whose first argument is the file descriptor they write to.
var writesToFD = map[string]bool{
	"write": true, "pwrite64": true, "writev": true, "pwritev": true, "pwritev2": true,
	"sendfile": true, "ftruncate": true, "fallocate": true, "fchmod": true, "fchown": true,
	"fsetxattr": true, "fremovexattr": true,
}

var (
	straceCall = regexp.MustCompile(`^(?:\d+ +)?([a-z0-9_]+)\((.*)$`)
	firstFD    = regexp.MustCompile(`^-?\d+<([^>]*)>`)
	openWrite  = regexp.MustCompile(`\bO_(?:WRONLY|RDWR|CREAT|TRUNC|APPEND|TMPFILE)\b`)
	quoted     = regexp.MustCompile(`"((?:[^"\\]|\\.)*)"`)
)

// traceSummary is what a trace shows.
type traceSummary struct {
	calls     int            // traced calls
	reads     map[string]int // paths opened read-only
	fdWrites  map[string]int // writes by kind of target: pipe, socket, anon_inode, /dev/null, ...
	violation []string       // every call that wrote, or tried to write, to a file
}

// summarize reads strace -f -y -s 0 output.
func summarize(r io.Reader) (traceSummary, error) {
	s := traceSummary{reads: map[string]int{}, fdWrites: map[string]int{}}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		m := straceCall.FindStringSubmatch(sc.Text())
		if m == nil {
			continue // "<... resumed>", "+++ exited", "--- SIG..."
		}
		name, args := m[1], m[2]
		s.calls++
		switch {
		case changesNames[name]:
			s.violation = append(s.violation, sc.Text())
		case name == "open" || name == "openat" || name == "openat2":
			path := ""
			if q := quoted.FindStringSubmatch(args); q != nil {
				path = q[1]
			}
			if openWrite.MatchString(args) && !harmlessDevice(path) {
				s.violation = append(s.violation, sc.Text())
			} else {
				s.reads[path]++
			}
		case writesToFD[name], name == "splice", name == "tee", name == "vmsplice":
			if name == "splice" {
				// splice(fd_in, off_in, fd_out, ...): the target is the third.
				parts := strings.SplitN(args, ", ", 4)
				if len(parts) < 3 {
					s.violation = append(s.violation, sc.Text())
					continue
				}
				args = parts[2]
			}
			target := "unknown"
			if fd := firstFD.FindStringSubmatch(args); fd != nil {
				target = fd[1]
			}
			kind := targetKind(target)
			s.fdWrites[kind]++
			if kind == "file" || kind == "unknown" {
				s.violation = append(s.violation, sc.Text())
			}
		case name == "mmap" || name == "msync":
			// A shared writable mapping of a file writes it; the Go runtime maps
			// anonymous memory only.
			if strings.Contains(args, "MAP_SHARED") && strings.Contains(args, "PROT_WRITE") && firstFDAt(args, 4) {
				s.violation = append(s.violation, sc.Text())
			}
		}
	}
	return s, sc.Err()
}

// targetKind names what a descriptor written to is, from strace -y's annotation.
func targetKind(target string) string {
	switch {
	case strings.HasPrefix(target, "pipe:"):
		return "pipe"
	case strings.HasPrefix(target, "socket:"), strings.HasPrefix(target, "UDP"), strings.HasPrefix(target, "TCP"), strings.HasPrefix(target, "UNIX"):
		return "socket"
	case strings.HasPrefix(target, "anon_inode:"):
		return "anon_inode"
	case harmlessDevice(target):
		return target
	case target == "unknown":
		return "unknown"
	}
	return "file"
}

// harmlessDevice: devices that store nothing.
func harmlessDevice(path string) bool {
	return path == "/dev/null" || path == "/dev/tty" || strings.HasPrefix(path, "/dev/pts/")
}

// firstFDAt reports whether the n-th argument (from 0) is a descriptor with a
// path.
func firstFDAt(args string, n int) bool {
	parts := strings.Split(args, ", ")
	return len(parts) > n && firstFD.MatchString(parts[n])
}

func TestSummarize(t *testing.T) {
	tests := []struct {
		line      string
		violation bool
		kind      string // the write's target kind, if a write
	}{
		{`123 openat(AT_FDCWD, "/tmp/x/swarmlight.yaml", O_RDONLY|O_CLOEXEC) = 3</tmp/x/swarmlight.yaml>`, false, ""},
		{`openat(AT_FDCWD, "/proc/meminfo", O_RDONLY|O_CLOEXEC) = 3</proc/meminfo>`, false, ""},
		{`123 openat(AT_FDCWD, "/tmp/x/panel.png", O_WRONLY|O_CREAT|O_TRUNC|O_CLOEXEC, 0666) = -1 ENOSPC (No space left on device)`, true, ""},
		{`123 openat(AT_FDCWD, "/var/log/x", O_RDWR|O_CLOEXEC) = 3</var/log/x>`, true, ""},
		{`123 openat(AT_FDCWD, "/dev/null", O_WRONLY|O_CLOEXEC) = 3</dev/null>`, false, ""},
		{`123 write(2<pipe:[4242]>, ""..., 120) = 120`, false, "pipe"},
		{`123 write(7<socket:[4243]>, ""..., 300) = 300`, false, "socket"},
		{`123 write(5<anon_inode:[eventfd]>, ""..., 8) = 8`, false, "anon_inode"},
		{`123 write(3</tmp/x/state.db>, ""..., 8) = 8`, true, "file"},
		{`123 pwrite64(3</home/u/f>, ""..., 8, 0) = 8`, true, "file"},
		{`123 write(1</dev/pts/0>, ""..., 8) = 8`, false, "/dev/pts/0"},
		{`123 write(3, ""..., 8) = 8`, true, "unknown"},
		{`123 ftruncate(3</tmp/x/f>, 0) = 0`, true, "file"},
		{`123 splice(3<pipe:[1]>, NULL, 4</tmp/f>, NULL, 10, 0) = 10`, true, "file"},
		{`123 mkdirat(AT_FDCWD, "/tmp/x/cache", 0777) = -1 ENOSPC (No space left on device)`, true, ""},
		{`123 unlinkat(AT_FDCWD, "/tmp/x/a", 0) = 0`, true, ""},
		{`123 renameat2(AT_FDCWD, "a", AT_FDCWD, "b", 0) = 0`, true, ""},
		{`123 mmap(NULL, 262144, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) = 0x7f0000000000`, false, ""},
		{`123 mmap(NULL, 4096, PROT_READ|PROT_WRITE, MAP_SHARED, 3</tmp/x/f>, 0) = 0x7f0000000000`, true, ""},
		{`123 newfstatat(AT_FDCWD, "/etc/swarmlight", 0x1, 0) = -1 ENOENT (No such file or directory)`, false, ""},
		{`123 <... write resumed>) = 120`, false, ""},
		{`+++ exited with 0 +++`, false, ""},
	}
	for _, tt := range tests {
		s, err := summarize(strings.NewReader(tt.line + "\n"))
		if err != nil {
			t.Fatal(err)
		}
		if got := len(s.violation) > 0; got != tt.violation {
			t.Errorf("%s: violation %v, want %v", tt.line, got, tt.violation)
		}
		if tt.kind != "" && s.fdWrites[tt.kind] != 1 {
			t.Errorf("%s: writes %v, want one to %s", tt.line, s.fdWrites, tt.kind)
		}
	}
}

func (s traceSummary) String() string {
	return fmt.Sprintf("%d calls traced, %d paths read, writes %v, %d writing to files", s.calls, len(s.reads), s.fdWrites, len(s.violation))
}
