package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/swarmlight/swarmlight/appliance/catalog"
	"github.com/swarmlight/swarmlight/appliance/config"
	"github.com/swarmlight/swarmlight/appliance/human"
)

// catalogCmd manages the shelf of torrents in catalog.dir:
//
//	swarmlight catalog add FILE.torrent | catalog list | catalog remove NAME|HASH   [flags]
func catalogCmd(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && (args[0] == "-h" || args[0] == "--help") {
		printUsage(stdout)
		return exitOK
	}
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		return usageError(stderr, "catalog needs add, list or remove")
	}
	sub := args[0]
	want := map[string]int{"add": 1, "list": 0, "remove": 1}
	n, known := want[sub]
	if !known {
		return usageError(stderr, fmt.Sprintf("catalog %s: want catalog add, catalog list or catalog remove", sub))
	}
	flags, operands, _, err := splitArgs(args[1:])
	if err != nil {
		return usageError(stderr, "catalog: "+err.Error())
	}
	if len(operands) != n {
		switch sub {
		case "add":
			return usageError(stderr, "catalog add needs one FILE.torrent")
		case "remove":
			return usageError(stderr, "catalog remove needs one NAME or HASH (catalog list shows them)")
		}
		return usageError(stderr, "catalog list takes no arguments")
	}
	cfg, _, status, ok := loadConfig("catalog", flags, stdout, stderr)
	if !ok {
		return status
	}
	switch sub {
	case "add":
		b, err := os.ReadFile(operands[0])
		if err != nil {
			fmt.Fprintf(stderr, "swarmlight: catalog add: %v\n", err)
			return exitUsage
		}
		return shelve(cfg, b, stdout, stderr)
	case "remove":
		return unshelve(cfg, operands[0], stdout, stderr)
	}
	return listShelf(cfg, stdout, stderr)
}

// openShelf is the shelf in catalog.dir, whether or not the tracker serves it:
// an operator may fill it before turning it on.
func openShelf(cfg config.Config) (*catalog.Shelf, error) {
	s := catalog.New(catalog.Deps{})
	err := s.Apply(catalog.Options{Enabled: true, Dir: cfg.Catalog.Dir, MaxSize: cfg.Catalog.MaxTorrentSize})
	return s, err
}

// shelve puts the .torrent file b on the shelf, through the same checks and the
// same atomic write as an upload, and tells a running tracker.
func shelve(cfg config.Config, b []byte, stdout, stderr io.Writer) int {
	s, err := openShelf(cfg)
	if err != nil && !errors.Is(err, catalog.ErrLeftOff) {
		fmt.Fprintf(stderr, "swarmlight: %v\n", err)
		return exitFail
	}
	e, err := s.Add(b)
	if err != nil {
		fmt.Fprintf(stderr, "swarmlight: catalog add: %v\n", strings.TrimPrefix(err.Error(), "catalog: "))
		if errors.Is(err, catalog.ErrInvalid) || errors.Is(err, catalog.ErrTooLarge) {
			return exitUsage
		}
		return exitFail
	}
	fmt.Fprintf(stdout, "on the shelf in %s: %s (%s)\n", cfg.Catalog.Dir, e.Name, human.Bytes(e.Size))
	if !cfg.Catalog.Enabled {
		fmt.Fprintln(stdout, "(not shown: catalog.enabled is false)")
	}
	return signalTrackers(stdout, stderr)
}

func unshelve(cfg config.Config, what string, stdout, stderr io.Writer) int {
	if _, err := os.Stat(cfg.Catalog.Dir); err != nil {
		fmt.Fprintf(stderr, "swarmlight: catalog remove: the shelf %s is empty: %v\n", cfg.Catalog.Dir, err)
		return exitUsage
	}
	s, err := openShelf(cfg)
	if err != nil && !errors.Is(err, catalog.ErrLeftOff) {
		fmt.Fprintf(stderr, "swarmlight: %v\n", err)
		return exitFail
	}
	e, err := s.Remove(what)
	if err != nil {
		if errors.Is(err, catalog.ErrNotFound) {
			fmt.Fprintf(stderr, "swarmlight: catalog remove: no torrent named %q, nor with that hash, in %s (swarmlight catalog list shows them)\n", what, cfg.Catalog.Dir)
			return exitUsage
		}
		fmt.Fprintf(stderr, "swarmlight: %v\n", err)
		return exitUsage
	}
	fmt.Fprintf(stdout, "taken off the shelf in %s: %s\n", cfg.Catalog.Dir, e.Name)
	return signalTrackers(stdout, stderr)
}

func listShelf(cfg config.Config, stdout, stderr io.Writer) int {
	var es []catalog.Entry
	if _, err := os.Stat(cfg.Catalog.Dir); err == nil {
		s, err := openShelf(cfg)
		if err != nil {
			// Files left off are named by count; the rest is listed.
			fmt.Fprintf(stderr, "swarmlight: %v\n", err)
		}
		es = s.List()
	}
	note := ""
	if !cfg.Catalog.Enabled {
		note = " (not shown: catalog.enabled is false)"
	}
	fmt.Fprintf(stdout, "%s in %s%s\n", count(len(es), "torrent", "torrents"), cfg.Catalog.Dir, note)
	for _, e := range es {
		fmt.Fprintf(stdout, "%s  %9s  %s\n", e.ID, human.Bytes(e.Size), e.Name)
	}
	return exitOK
}
