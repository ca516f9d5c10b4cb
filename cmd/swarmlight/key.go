package main

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strings"

	"github.com/swarmlight/swarmlight/appliance"
	"github.com/swarmlight/swarmlight/appliance/access"
	"github.com/swarmlight/swarmlight/appliance/config"
)

// keyCmd manages the members of a private tracker:
//
//	swarmlight key add LABEL | key list | key revoke LABEL   [flags]
func keyCmd(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && (args[0] == "-h" || args[0] == "--help") {
		printUsage(stdout)
		return exitOK
	}
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		return usageError(stderr, "key needs add, list or revoke")
	}
	sub := args[0]
	want := map[string]int{"add": 1, "list": 0, "revoke": 1}
	n, known := want[sub]
	if !known {
		return usageError(stderr, fmt.Sprintf("key %s: want key add, key list or key revoke", sub))
	}
	flags, operands, _, err := splitArgs(args[1:])
	if err != nil {
		return usageError(stderr, "key: "+err.Error())
	}
	if len(operands) != n {
		if n == 0 {
			return usageError(stderr, "key list takes no arguments")
		}
		return usageError(stderr, fmt.Sprintf("key %s needs one LABEL, the member's name (letters, digits and . _ @ -)", sub))
	}
	cfg, _, status, ok := loadConfig("key", flags, stdout, stderr)
	if !ok {
		return status
	}
	path := cfg.Access.KeyFile

	switch sub {
	case "list":
		ms, err := access.ReadMembersFile(path)
		if err != nil {
			fmt.Fprintf(stderr, "swarmlight: %v\n", err)
			return editStatus(err)
		}
		fmt.Fprintf(stdout, "%s in %s%s\n", count(len(ms), "member", "members"), path, privateNote(cfg))
		for _, m := range ms {
			fmt.Fprintln(stdout, m.Label)
		}
		return exitOK

	case "revoke":
		label := operands[0]
		if err := access.RevokeMember(path, label); err != nil {
			if errors.Is(err, access.ErrNoLabel) {
				fmt.Fprintf(stderr, "swarmlight: key revoke: no member is labelled %q in %s (swarmlight key list shows them)\n", label, path)
			} else {
				fmt.Fprintf(stderr, "swarmlight: %v\n", err)
			}
			return editStatus(err, access.ErrNoLabel)
		}
		fmt.Fprintf(stdout, "revoked %s's key in %s\n", label, path)
		return signalTrackers(stdout, stderr)
	}

	label := operands[0]
	if err := access.CheckLabel(label); err != nil {
		fmt.Fprintf(stderr, "swarmlight: key add %q: %v\n", label, err)
		return exitUsage
	}
	key := access.Generate()
	if err := access.AddMember(path, label, access.Digest(key)); err != nil {
		if errors.Is(err, access.ErrLabelTaken) {
			fmt.Fprintf(stderr, "swarmlight: key add: %q is already a member in %s; revoke that key first, or choose another label\n", label, path)
		} else {
			fmt.Fprintf(stderr, "swarmlight: %v\n", err)
		}
		return editStatus(err, access.ErrLabelTaken)
	}
	fmt.Fprintf(stdout, "%s's passkey, shown only this once (%s keeps only its hash):\n\n  %s\n\n", label, path, key)
	fmt.Fprintf(stdout, "%s's announce URLs:\n", label)
	for _, u := range memberURLs(cfg, key) {
		fmt.Fprintf(stdout, "  %s\n", u)
	}
	if note := privateNote(cfg); note != "" {
		fmt.Fprintf(stdout, "\n%s\n", strings.TrimSpace(note))
	}
	return signalTrackers(stdout, stderr)
}

// privateNote tells an operator managing keys that the mode in force ignores them.
func privateNote(cfg config.Config) string {
	if cfg.Access.Mode.Private {
		return ""
	}
	return fmt.Sprintf(" (not in use: access.mode is %s, not private)", cfg.Access.Mode)
}

// memberURLs are the announce URLs carrying key, one per address of this machine
// a listen address covers, HTTP first, as the tracker prints its own at start.
func memberURLs(cfg config.Config, key string) []string {
	var urls []string
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
			hosts := []string{host}
			if a, err := netip.ParseAddr(host); host == "" || (err == nil && a.IsUnspecified()) {
				hosts = hosts[:0]
				for _, a := range appliance.LocalAddrs(err == nil && a.Is4()) {
					hosts = append(hosts, a.String())
				}
			}
			for _, h := range hosts {
				u := l.scheme + "://" + net.JoinHostPort(h, port) + "/" + key + "/announce"
				if !seen[u] {
					seen[u] = true
					urls = append(urls, u)
				}
			}
		}
	}
	return urls
}
