package appliance

import "github.com/swarmlight/swarmlight/appliance/catalog"

// SetCatalogHook makes f see the running tracker's shelf each time it takes a
// configuration (at start and at each reload), until restore.
func SetCatalogHook(f func(*catalog.Shelf)) (restore func()) {
	testHookCatalog = f
	return func() { testHookCatalog = nil }
}
