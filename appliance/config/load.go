package config

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/spf13/pflag"
	"github.com/spf13/viper"
)

// FileName is the config file looked for in each search path.
const FileName = "swarmlight.yaml"

// EnvPrefix starts every environment variable name: tracker.interval is read from
// SWARMLIGHT_TRACKER_INTERVAL.
const EnvPrefix = "SWARMLIGHT_"

// ConfigFlag is the flag naming an explicit config file.
const ConfigFlag = "config"

// DefaultSearchPaths are where Load looks for FileName when no file is named: the
// installed location first, then the source tree's, for running from a checkout.
func DefaultSearchPaths() []string { return []string{"/etc/swarmlight", "./configs"} }

// Options says where Load reads from. The zero value reads the default search paths,
// the process environment and no flags.
type Options struct {
	// File is a config file that must exist. When empty, the --config flag in Flags
	// names it, and failing that the first FileName found in SearchPaths is read.
	File string
	// SearchPaths are directories searched for FileName; nil means
	// DefaultSearchPaths, an empty slice means search nowhere.
	SearchPaths []string
	// Flags, parsed, from RegisterFlags; only flags the user set count.
	Flags *pflag.FlagSet
	// Env is the environment as "KEY=value" lines; nil means os.Environ().
	Env []string

	// ram is where swarm.max_memory: auto reads the RAM; the zero value reads this
	// machine's. Tests set it to made-up figures.
	ram ramProbe
}

// Load reads defaults, then the config file, then the environment, then flags, each
// overriding the one before, and validates the result. Its error is always Errors,
// listing every problem found.
func Load(opts Options) (Config, error) {
	l := loader{v: viper.New(), origin: make(map[string]string)}
	l.v.SetConfigType("yaml")
	if path := l.findFile(opts); path != "" {
		l.readFile(path)
	}
	for _, k := range schema {
		l.v.SetDefault(k.name, k.def)
	}
	l.readEnv(opts.Env)
	l.readFlags(opts.Flags)

	probe := opts.ram
	if probe.meminfo == nil && probe.sysinfo == nil {
		probe = machine
	}
	cfg, errs := build(func(k key) (any, string) {
		raw := l.v.Get(k.name)
		if raw == nil {
			// A key the file leaves empty ("level:") keeps its default, as does one
			// hidden by a value where its section belongs, which readFile reported.
			raw = k.def
		}
		return raw, l.origin[k.name]
	}, probe)
	l.errs = append(l.errs, errs...)
	if len(l.errs) > 0 {
		return Config{}, l.errs
	}
	return cfg, nil
}

// loader is one Load in progress. Values from the environment and flags go into the
// viper instance with Set, environment first, so that flags win: viper's own
// environment support reads only the real process environment, and its flag layer
// would rank below Set.
type loader struct {
	v      *viper.Viper
	origin map[string]string // key -> "in FILE", "by ENV_VAR" or "by --flag"
	errs   Errors
}

func (l *loader) fail(key, problem string) {
	l.errs = append(l.errs, &KeyError{Key: key, Problem: problem})
}

// findFile picks the config file, or "" to run on defaults.
func (l *loader) findFile(opts Options) string {
	if opts.File != "" {
		return opts.File
	}
	if opts.Flags != nil {
		if f := opts.Flags.Lookup(ConfigFlag); f != nil && f.Changed {
			if f.Value.String() == "" {
				l.fail("file", "--config names no file")
			}
			return f.Value.String()
		}
	}
	paths := opts.SearchPaths
	if paths == nil {
		paths = DefaultSearchPaths()
	}
	for _, dir := range paths {
		path := filepath.Join(dir, FileName)
		_, err := os.Stat(path)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			// A file we may not read is not the same as no file: running on defaults
			// would silently ignore what the operator configured.
			l.fail("file", fmt.Sprintf("%s: %s", path, reason(err)))
			return ""
		}
		return path
	}
	return ""
}

// readFile loads the file into viper's config layer and reports keys the schema
// does not know, so a typo does not silently leave the default in force.
func (l *loader) readFile(path string) {
	data, err := os.ReadFile(path)
	if err != nil {
		l.fail("file", fmt.Sprintf("%s: %s", path, reason(err)))
		return
	}
	if err := l.v.ReadConfig(bytes.NewReader(data)); err != nil {
		l.fail("file", fmt.Sprintf("%s: %s", path, yamlProblem(err)))
		return
	}
	// Only the file has been read so far, so AllKeys lists exactly the file's keys.
	keys := l.v.AllKeys()
	sort.Strings(keys)
	reported := make(map[string]bool)
	for _, dotted := range keys {
		name, problem := l.checkFileKey(dotted)
		if name != "" && problem == "" {
			l.origin[name] = "in " + path
			continue
		}
		if name != "" && !reported[name] {
			reported[name] = true
			l.fail(name, problem+" (in "+path+")")
		}
	}
}

// checkFileKey maps a flattened file key (which may run deeper than a schema key,
// when the file has a mapping where a value belongs) to the schema key it sets, or
// to the name to report and the problem.
func (l *loader) checkFileKey(dotted string) (name, problem string) {
	sec, rest, nested := strings.Cut(dotted, ".")
	if !isSection(sec) {
		return sec, "unknown key" + suggest(sec)
	}
	if !nested {
		if l.v.Get(sec) == nil {
			return "", "" // an empty section: every key keeps its default
		}
		return sec, fmt.Sprintf("want a section of %s.* keys; got %s", sec, describe(l.v.Get(sec)))
	}
	leaf, _, _ := strings.Cut(rest, ".")
	name = sec + "." + leaf
	if _, ok := lookupKey(name); !ok {
		return name, "unknown key" + suggest(name)
	}
	return name, "" // a bad value under a known key is the decoder's to report
}

// readEnv puts SWARMLIGHT_* variables over the file. Empty variables count as unset,
// as viper does, because service managers often define them empty.
func (l *loader) readEnv(env []string) {
	if env == nil {
		env = os.Environ()
	}
	vars := make(map[string]string)
	for _, kv := range env {
		name, val, ok := strings.Cut(kv, "=")
		if _, dup := vars[name]; ok && !dup {
			vars[name] = val // the first wins, as with os.Getenv
		}
	}
	for _, k := range schema {
		name := EnvName(k.name)
		if val := vars[name]; val != "" {
			l.v.Set(k.name, val)
			l.origin[k.name] = "by " + name
		}
	}
}

// EnvName is the environment variable that sets key: tracker.interval is
// SWARMLIGHT_TRACKER_INTERVAL.
func EnvName(key string) string {
	return EnvPrefix + strings.ToUpper(strings.ReplaceAll(key, ".", "_"))
}

// readFlags puts the flags the user set over the environment.
func (l *loader) readFlags(fs *pflag.FlagSet) {
	if fs == nil {
		return
	}
	for _, k := range schema {
		f := fs.Lookup(k.name)
		if f == nil || !f.Changed {
			continue
		}
		l.v.Set(k.name, flagRaw(f))
		l.origin[k.name] = "by --" + k.name
	}
}

// reason is the part of a file system error worth showing after the path.
func reason(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

// yamlProblem turns a parse error into one line: the yaml package reports several
// type errors on separate lines, and the CLI prints one problem per line.
func yamlProblem(err error) string {
	var pe viper.ConfigParseError
	if errors.As(err, &pe) && pe.Unwrap() != nil {
		err = pe.Unwrap()
	}
	msg := err.Error()
	if strings.Contains(msg, "into map[string]interface {}") {
		return "want a mapping of sections, like \"tracker:\" with keys indented under it"
	}
	msg = strings.TrimPrefix(msg, "yaml: ")
	msg = strings.TrimPrefix(msg, "unmarshal errors:")
	lines := strings.Split(msg, "\n")
	kept := lines[:0]
	for _, line := range lines {
		if line = strings.TrimSpace(line); line != "" {
			kept = append(kept, line)
		}
	}
	return strings.Join(kept, "; ")
}
