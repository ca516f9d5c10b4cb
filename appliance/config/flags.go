package config

import (
	"strings"

	"github.com/spf13/pflag"
)

// RegisterFlags adds --config and one flag per key, named as the key
// (--tracker.interval 10m). List flags take several values, comma separated or
// repeated. Flags keep the raw text: Load checks it like any other source, so a bad
// flag value gets the same message, naming the key, as a bad file value.
func RegisterFlags(fs *pflag.FlagSet) {
	fs.String(ConfigFlag, "", "Config file to read (must exist); without it "+FileName+" is looked for in "+strings.Join(DefaultSearchPaths(), " then "))
	for _, k := range schema {
		f := fs.VarPF(&flagValue{kind: k.kind, text: defaultText(k)}, k.name, "", k.doc)
		if k.kind == kindBool {
			// --tracker.full_scrape alone means true; false must be spelled
			// --tracker.full_scrape=false, as for any pflag boolean.
			f.NoOptDefVal = "true"
		}
	}
}

// flagValue is a flag's raw text. The first value given replaces the default; later
// ones add to a list and replace a scalar.
type flagValue struct {
	kind kind
	text []string
	set  bool
}

func (f *flagValue) String() string { return strings.Join(f.text, ",") }
func (f *flagValue) Type() string   { return f.kind.typeName() }

func (f *flagValue) Set(s string) error {
	switch {
	case !f.kind.isList():
		f.text = []string{s}
	case !f.set:
		f.text = splitList(s)
	default:
		f.text = append(f.text, splitList(s)...)
	}
	f.set = true
	return nil
}

// flagRaw is the value a set flag contributes, in a form the decoders accept.
func flagRaw(f *pflag.Flag) any {
	fv, ok := f.Value.(*flagValue)
	switch {
	case ok && fv.kind.isList():
		return append([]string{}, fv.text...)
	case ok:
		return fv.String()
	}
	// A flag someone registered by hand: take what pflag offers.
	if sv, ok := f.Value.(pflag.SliceValue); ok {
		return sv.GetSlice()
	}
	return f.Value.String()
}

// defaultText is a key's default as a flag's help shows it. A string goes in
// bare: pflag quotes a string flag's default itself, and YAML's quoting
// (formatScalar) on top of that printed (default "\"GPIO23\"").
func defaultText(k key) []string {
	switch d := k.def.(type) {
	case []string:
		return append([]string{}, d...)
	case string:
		return []string{d}
	}
	return []string{formatScalar(k.def)}
}
