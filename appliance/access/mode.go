// Package access decides who may use the tracker beyond the allowed networks: which
// torrents are tracked (an allow list or a deny list of info-hashes), who is a
// member (passkeys) and which clients are welcome (peer_id prefixes). Every check
// runs on the announce path, so each is allocation-free and reads an immutable
// snapshot that a reload swaps in whole.
package access

import (
	"fmt"
	"strings"
)

// List is which torrents are tracked.
type List uint8

const (
	Open     List = iota // every torrent
	Listed               // only those in the allow list
	Unlisted             // all but those in the deny list
)

// Mode is access.mode: a list mode, and whether every request needs a passkey.
type Mode struct {
	List    List
	Private bool
}

// ModeWords lists what ParseMode accepts, for help text and messages.
const ModeWords = "open, listed, unlisted, private, private+listed or private+unlisted"

// ParseMode reads access.mode: "open", "listed", "unlisted", "private", or private
// with a list mode joined by "+" in either order ("private+listed").
func ParseMode(s string) (Mode, error) {
	var m Mode
	words := strings.Split(strings.ToLower(strings.TrimSpace(s)), "+")
	if len(words) > 2 {
		return Mode{}, fmt.Errorf("%q is not an access mode; want %s", s, ModeWords)
	}
	lists := 0
	for _, w := range words {
		switch strings.TrimSpace(w) {
		case "open":
			lists++
		case "listed":
			m.List, lists = Listed, lists+1
		case "unlisted":
			m.List, lists = Unlisted, lists+1
		case "private":
			if m.Private {
				return Mode{}, fmt.Errorf("%q names private twice; want %s", s, ModeWords)
			}
			m.Private = true
		default:
			return Mode{}, fmt.Errorf("%q is not an access mode; want %s", s, ModeWords)
		}
	}
	if lists > 1 || (len(words) == 2 && !m.Private) || (m.Private && len(words) == 2 && m.List == Open) {
		return Mode{}, fmt.Errorf("%q is not an access mode; want %s", s, ModeWords)
	}
	return m, nil
}

// String is the mode as ParseMode reads it.
func (m Mode) String() string {
	list := [...]string{Open: "open", Listed: "listed", Unlisted: "unlisted"}[m.List]
	switch {
	case m.Private && m.List == Open:
		return "private"
	case m.Private:
		return "private+" + list
	}
	return list
}
