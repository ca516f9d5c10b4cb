package config

import (
	"fmt"
	"path"

	"github.com/swarmlight/swarmlight/appliance/access"
)

// defaultFileName is the file name the schema gives a file key by default.
func defaultFileName(name string) string {
	k, _ := lookupKey(name)
	s, _ := k.def.(string)
	return path.Base(s)
}

// source gives a key's raw value and where it came from ("" for the default), for
// messages that tell the user which line, variable or flag to fix.
type source func(k key) (raw any, origin string)

// build decodes every key from src, then checks the rules that span keys and
// resolves swarm.max_memory: auto with probe. It keeps going after a problem so the
// user sees every problem in one run.
func build(src source, probe ramProbe) (Config, Errors) {
	var cfg Config
	var errs Errors
	bad := make(map[string]bool)
	for _, k := range schema {
		raw, origin := src(k)
		if problem := k.apply(&cfg, raw); problem != "" {
			errs = append(errs, &KeyError{Key: k.name, Problem: problem + fromWhere(origin)})
			bad[k.name] = true
		}
	}
	errs = append(errs, crossCheck(&cfg, bad)...)
	resolveMemory(&cfg.Swarm, probe)
	return cfg, errs
}

// crossCheck applies the rules between keys, skipping any rule whose keys are
// already reported: comparing against a value we did not store would only add noise.
func crossCheck(c *Config, bad map[string]bool) Errors {
	var errs Errors
	t := &c.Tracker
	if !bad["tracker.interval"] && !bad["tracker.min_interval"] && t.MinInterval > t.Interval {
		errs = append(errs, &KeyError{Key: "tracker.min_interval", Problem: fmt.Sprintf(
			"%s is longer than tracker.interval %s; want at most the interval",
			formatDuration(t.MinInterval), formatDuration(t.Interval))})
	}
	if !bad["tracker.interval"] && !bad["tracker.peer_timeout"] {
		switch {
		case t.PeerTimeout == 0:
			// Resolved here so no consumer has to know that 0 means "derive it".
			t.PeerTimeout = t.Interval * 3 / 2
		case t.PeerTimeout <= t.Interval:
			errs = append(errs, &KeyError{Key: "tracker.peer_timeout", Problem: fmt.Sprintf(
				"%s is not longer than tracker.interval %s, so peers would vanish between announces; want more than the interval, or 0 for 1.5 x the interval",
				formatDuration(t.PeerTimeout), formatDuration(t.Interval))})
		}
	}
	if !bad["tracker.numwant_default"] && !bad["tracker.numwant_max"] && t.NumWantDefault > t.NumWantMax {
		errs = append(errs, &KeyError{Key: "tracker.numwant_default", Problem: fmt.Sprintf(
			"%d is more than tracker.numwant_max %d; want at most numwant_max",
			t.NumWantDefault, t.NumWantMax)})
	}
	if a := c.Access; !bad["access.mode"] {
		for _, need := range []struct {
			on   bool
			key  string
			path string
		}{
			{a.Mode.List == access.Listed, "access.allow_file", a.AllowFile},
			{a.Mode.List == access.Unlisted, "access.deny_file", a.DenyFile},
			{a.Mode.Private, "access.key_file", a.KeyFile},
		} {
			if need.on && need.path == "" && !bad[need.key] {
				errs = append(errs, &KeyError{Key: need.key, Problem: fmt.Sprintf(
					"access.mode %s needs this file; want a path like /etc/swarmlight/%s", a.Mode, defaultFileName(need.key))})
			}
		}
	}
	if p := c.Panel; !bad["panel.display_height"] && p.DisplayHeight != 32 && p.DisplayHeight != 64 {
		errs = append(errs, &KeyError{Key: "panel.display_height", Problem: fmt.Sprintf("%d is not a height an SSD1306 comes in; want 32 or 64", p.DisplayHeight)})
	}
	return errs
}

// fromWhere is the suffix naming where a bad value came from.
func fromWhere(origin string) string {
	if origin == "" {
		return ""
	}
	return " (set " + origin + ")"
}
