package appliance

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/swarmlight/swarmlight/appliance/access"
	"github.com/swarmlight/swarmlight/appliance/catalog"
	"github.com/swarmlight/swarmlight/appliance/config"
	"github.com/swarmlight/swarmlight/appliance/web"
)

// catalogPart is the shelf of torrents (catalog.*). It reads catalog.dir at
// start and at each reload (swarmlight catalog add signals one), and its own
// uploads as they come; it does not watch the directory. What is on it is
// published to the access control, so listed mode tracks it.
type catalogPart struct {
	shelf *catalog.Shelf
	cfg   config.Catalog
	log   *slog.Logger
}

func newCatalogPart(cfg config.Config, acc *access.Control, urls func() []string, log *slog.Logger) *catalogPart {
	shelf := catalog.New(catalog.Deps{
		Published:    acc.SetPublished,
		Private:      func() bool { return acc.Stats().Mode.Private },
		Member:       func(key string) bool { return isMember(acc, key) },
		AnnounceURLs: urls,
	})
	return &catalogPart{shelf: shelf, cfg: cfg.Catalog, log: log}
}

// isMember reports whether key is a member's passkey, by the check an
// announce gets.
func isMember(acc *access.Control, key string) bool {
	var k access.Key
	return k.Set(key) && acc.Stats().Mode.Private && acc.CheckScrape(&k) == nil
}

func catalogOpts(c config.Catalog) catalog.Options {
	return catalog.Options{Enabled: c.Enabled, Dir: c.Dir, UploadKey: c.UploadKey, MaxSize: c.MaxTorrentSize}
}

// testHookCatalog, nil outside tests, is given the shelf each time it takes a
// configuration, so that a test can upload to the running tracker's shelf.
var testHookCatalog func(*catalog.Shelf)

func (c *catalogPart) start(context.Context) error {
	c.apply(catalogOpts(c.cfg))
	return nil
}

func (c *catalogPart) apply(o catalog.Options) {
	if err := c.shelf.Apply(o); err != nil {
		// Files it could not read are left off; the shelf serves the rest.
		c.log.Warn("catalog: not all of the shelf could be read", "err", err)
	}
	if testHookCatalog != nil {
		testHookCatalog(c.shelf)
	}
}

// reload readies a new directory by making and reading it: a catalog.dir that
// cannot be used refuses the whole reload, as an address that cannot be bound
// does. The commit reads the directory again in any case, which is how a
// torrent `swarmlight catalog add` wrote shows up.
func (c *catalogPart) reload(next config.Config) (change, error) {
	o := catalogOpts(next.Catalog)
	if o.Enabled {
		if err := catalog.Ready(o.Dir); err != nil {
			return change{}, &config.KeyError{Key: "catalog.dir", Problem: fmt.Sprintf("cannot be used: %v", err)}
		}
	}
	return change{commit: func() []string {
		c.cfg = next.Catalog
		c.apply(o)
		return nil
	}}, nil
}

func (c *catalogPart) stop(context.Context) {}

// Handler answers /catalog and below for the status page's server; nil while
// the shelf is off, so the page shows none.
func (c *catalogPart) Handler() http.Handler {
	if !c.shelf.Enabled() {
		return nil
	}
	return c.shelf.Handler()
}

// Items lists the shelf for the status page; nil while the shelf is off.
func (c *catalogPart) Items() func() []web.ShelfItem {
	if !c.shelf.Enabled() {
		return nil
	}
	return func() []web.ShelfItem {
		es := c.shelf.List()
		items := make([]web.ShelfItem, len(es))
		for i, e := range es {
			items[i] = web.ShelfItem{Name: e.Name, Size: e.Size, Magnet: e.Magnet, Download: e.Download, Private: e.Private}
		}
		return items
	}
}
