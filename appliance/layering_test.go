package appliance

import (
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestDomainPackagesStandAlone: the domain packages take a Config of their own
// and know nothing of the central configuration, and the fronts know the tracker
// only, not the store behind it. An import that breaks this ties a component to
// what it should be handed.
func TestDomainPackagesStandAlone(t *testing.T) {
	const mod = "github.com/swarmlight/swarmlight/appliance/"
	for _, tc := range []struct {
		dir       string
		forbidden []string
	}{
		{"tracker", []string{mod + "config"}},
		{"swarm", []string{mod + "config", mod + "tracker"}},
		{"httptracker", []string{mod + "config", mod + "swarm"}},
		{"udptracker", []string{mod + "config", mod + "swarm"}},
	} {
		files, err := filepath.Glob(filepath.Join(tc.dir, "*.go"))
		if err != nil || len(files) == 0 {
			t.Fatalf("%s: no Go files (%v)", tc.dir, err)
		}
		for _, name := range files {
			if strings.HasSuffix(name, "_test.go") {
				continue
			}
			src, err := os.ReadFile(name)
			if err != nil {
				t.Fatal(err)
			}
			f, err := parser.ParseFile(token.NewFileSet(), name, src, parser.ImportsOnly)
			if err != nil {
				t.Fatal(err)
			}
			for _, imp := range f.Imports {
				path, _ := strconv.Unquote(imp.Path.Value)
				for _, bad := range tc.forbidden {
					if path == bad {
						t.Errorf("%s imports %s", name, path)
					}
				}
			}
		}
	}
}
