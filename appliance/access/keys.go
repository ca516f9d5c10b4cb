package access

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
)

// Generate returns a new passkey: 128 random bits as 32 lowercase hex digits,
// letters and digits only so it sits in a URL path unescaped.
func Generate() string {
	var b [16]byte
	rand.Read(b[:]) // never fails: crypto/rand crashes the program rather than return short
	return hex.EncodeToString(b[:])
}

// Member is one line of the key file: a label the operator chose and the SHA-256 of
// the member's key. The key itself is stored nowhere.
type Member struct {
	Label  string
	Digest [32]byte
}

// Digest is what the key file stores for key.
func Digest(key string) [32]byte { return sha256.Sum256([]byte(key)) }

// String is the member's line in the key file.
func (m Member) String() string { return m.Label + " " + hex.EncodeToString(m.Digest[:]) }

// maxLabel is the longest label.
const maxLabel = 64

// CheckLabel says what is wrong with a label, or nil: 1 to 64 of A-Z a-z 0-9 . _ @ -.
func CheckLabel(s string) error {
	if len(s) == 0 || len(s) > maxLabel {
		return fmt.Errorf("a label is 1 to %d characters", maxLabel)
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !isAlnum(c) && c != '.' && c != '_' && c != '@' && c != '-' {
			return errors.New("a label is letters, digits and . _ @ - only")
		}
	}
	return nil
}

// ReadMembers reads a key file: "LABEL SHA256HEX" a line, '#' comments, blank lines.
// Labels are unique. A problem is a *LineError naming path and the line number.
func ReadMembers(r io.Reader, path string) ([]Member, error) {
	var ms []Member
	seen := map[string]bool{}
	err := eachLine(r, path, func(line []byte) error {
		m, err := parseMember(line)
		if err != nil {
			return err
		}
		if seen[m.Label] {
			return errors.New("a label given twice")
		}
		seen[m.Label] = true
		ms = append(ms, m)
		return nil
	})
	return ms, err
}

func parseMember(line []byte) (Member, error) {
	f := bytes.Fields(line)
	if len(f) != 2 {
		return Member{}, errors.New(`not "LABEL SHA256HEX"`)
	}
	var m Member
	if err := CheckLabel(string(f[0])); err != nil {
		return Member{}, err
	}
	if len(f[1]) != 64 {
		return Member{}, errors.New("the key's hash is not 64 hex digits")
	}
	if _, err := hex.Decode(m.Digest[:], f[1]); err != nil {
		return Member{}, errors.New("the key's hash is not 64 hex digits")
	}
	m.Label = string(f[0])
	return m, nil
}

// Keys is the set of valid passkeys, held as their SHA-256 digests, sorted. The nil
// *Keys admits no one.
type Keys struct {
	d [][32]byte
}

// NewKeys is the set of the members' keys.
func NewKeys(ms []Member) *Keys {
	k := &Keys{d: make([][32]byte, len(ms))}
	for i, m := range ms {
		k.d[i] = m.Digest
	}
	slices.SortFunc(k.d, func(x, y [32]byte) int { return bytes.Compare(x[:], y[:]) })
	return k
}

// LoadKeys reads the key file at path.
func LoadKeys(path string) (*Keys, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	ms, err := ReadMembers(f, path)
	if err != nil {
		return nil, err
	}
	return NewKeys(ms), nil
}

// Has reports whether key is a member's. It hashes the key and searches the
// digests: allocation-free, and timing reveals at most how a digest compares,
// which says nothing of any key.
func (k *Keys) Has(key *Key) bool {
	if k == nil || key == nil || key.n == 0 {
		return false
	}
	d := sha256.Sum256(key.b[:key.n])
	lo, hi := 0, len(k.d)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		switch c := bytes.Compare(k.d[m][:], d[:]); {
		case c == 0:
			return true
		case c < 0:
			lo = m + 1
		default:
			hi = m
		}
	}
	return false
}

// Len is the number of keys.
func (k *Keys) Len() int {
	if k == nil {
		return 0
	}
	return len(k.d)
}
