package main

import (
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/anacrolix/torrent/metainfo"
	infohash_v2 "github.com/anacrolix/torrent/types/infohash-v2"

	"github.com/swarmlight/swarmlight/appliance/access"
	"github.com/swarmlight/swarmlight/appliance/config"
)

// listCmd edits or shows the allow list (or, with --deny, the deny list):
//
//	swarmlight list add|remove|show [--deny] ARG... [flags]
func listCmd(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && (args[0] == "-h" || args[0] == "--help") {
		printUsage(stdout)
		return exitOK
	}
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		return usageError(stderr, "list needs add, remove or show")
	}
	sub := args[0]
	if sub != "add" && sub != "remove" && sub != "show" {
		return usageError(stderr, fmt.Sprintf("list %s: want list add, list remove or list show", sub))
	}
	flags, operands, own, err := splitArgs(args[1:], "deny")
	if err != nil {
		return usageError(stderr, "list: "+err.Error())
	}
	cfg, _, status, ok := loadConfig("list", flags, stdout, stderr)
	if !ok {
		return status
	}
	path, used := cfg.Access.AllowFile, cfg.Access.Mode.List == access.Listed
	if own["deny"] {
		path, used = cfg.Access.DenyFile, cfg.Access.Mode.List == access.Unlisted
	}

	if sub == "show" {
		if len(operands) > 0 {
			return usageError(stderr, "list show takes no arguments")
		}
		hs, err := access.ReadHashes(path)
		if err != nil {
			fmt.Fprintf(stderr, "swarmlight: %v\n", err)
			return editStatus(err)
		}
		fmt.Fprintf(stdout, "%s in %s%s\n", count(len(hs), "info-hash", "info-hashes"), path, unusedNote(cfg, used))
		for _, h := range hs {
			fmt.Fprintln(stdout, hex.EncodeToString(h[:]))
		}
		return exitOK
	}

	if len(operands) == 0 {
		return usageError(stderr, fmt.Sprintf("list %s needs one or more info-hashes, magnet links or .torrent files", sub))
	}
	var entries []access.Entry
	for i, arg := range operands {
		es, err := entriesOf(arg)
		if err != nil {
			// The argument is named by position: it may be an info-hash.
			fmt.Fprintf(stderr, "swarmlight: list %s: argument %d: %v\n", sub, i+1, err)
			return exitUsage
		}
		entries = append(entries, es...)
	}

	var changed [][20]byte
	if sub == "add" {
		changed, err = access.AddHashes(path, entries)
	} else {
		hs := make([][20]byte, len(entries))
		for i, e := range entries {
			hs[i] = e.Hash
		}
		changed, err = access.RemoveHashes(path, hs)
	}
	if err != nil {
		fmt.Fprintf(stderr, "swarmlight: %v\n", err)
		return editStatus(err)
	}
	done := map[[20]byte]bool{}
	for _, h := range changed {
		done[h] = true
	}
	verb, no := map[string]string{"add": "added", "remove": "removed"}[sub], map[string]string{"add": "already listed", "remove": "not listed"}[sub]
	told := map[[20]byte]bool{} // a hash given twice is reported once
	for _, e := range entries {
		if told[e.Hash] {
			continue
		}
		told[e.Hash] = true
		h := hex.EncodeToString(e.Hash[:])
		if done[e.Hash] {
			fmt.Fprintf(stdout, "%s %s\n", verb, h)
		} else {
			fmt.Fprintf(stdout, "%s: %s, nothing to do\n", h, no)
		}
	}
	fmt.Fprintf(stdout, "%s: %d %s%s\n", path, len(changed), verb, unusedNote(cfg, used))
	if len(changed) == 0 {
		return exitOK
	}
	return signalTrackers(stdout, stderr)
}

// count is "1 thing" or "n things".
func count(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + many
}

// unusedNote tells an operator editing a list that the mode in force ignores it.
func unusedNote(cfg config.Config, used bool) string {
	if used {
		return ""
	}
	return fmt.Sprintf(" (not in use: access.mode is %s)", cfg.Access.Mode)
}

// entriesOf reads an operand: a .torrent file, an info-hash or a magnet link.
func entriesOf(arg string) ([]access.Entry, error) {
	if strings.HasSuffix(strings.ToLower(arg), ".torrent") {
		return torrentEntries(arg)
	}
	hs, err := access.ParseHashes(arg)
	if err != nil {
		return nil, errors.New("not an info-hash (40 hex digits or 32 base32 characters), a magnet link or a .torrent file")
	}
	es := make([]access.Entry, len(hs))
	for i, h := range hs {
		es[i].Hash = h
	}
	return es, nil
}

// torrentEntries are the hashes trackers see for a torrent file: the v1 info-hash,
// and for a v2 or hybrid torrent the v2 one truncated to 20 bytes (BEP 52). A
// hybrid torrent's peers announce under either, so both are listed.
func torrentEntries(path string) ([]access.Entry, error) {
	mi, err := metainfo.LoadFromFile(path)
	if err != nil {
		return nil, fmt.Errorf("%s: not a readable .torrent file: %w", path, err)
	}
	info, err := mi.UnmarshalInfo()
	if err != nil {
		return nil, fmt.Errorf("%s: the torrent's info dictionary is unreadable: %w", path, err)
	}
	var es []access.Entry
	if info.HasV1() {
		es = append(es, access.Entry{Hash: mi.HashInfoBytes(), Note: info.BestName() + " (v1)"})
	}
	if info.HasV2() {
		v2 := infohash_v2.HashBytes(mi.InfoBytes)
		es = append(es, access.Entry{Hash: *v2.ToShort(), Note: info.BestName() + " (v2)"})
	}
	if len(es) == 0 {
		return nil, fmt.Errorf("%s: neither a v1 nor a v2 torrent", path)
	}
	return es, nil
}
