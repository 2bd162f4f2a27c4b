// Package static holds the embedded front-end assets: the vendored libraries in
// vendor/ (refreshed by update.sh from the versions pinned in package.json) and
// the application's own app.css and app.js. Nothing is loaded from a CDN.
//
// Pages link assets by content-hashed addresses (URL): the address changes
// whenever the file does, so browsers may keep an answer for good
// ("immutable") and still never use a stale stylesheet after an upgrade.
package static

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"path"
	"strings"
	"sync"
)

//go:embed vendor app.css app.js console.js favicon.ico ballot.js ballot_ui.js graphs.js join.js
var files embed.FS

// FS returns the assets with paths relative to this directory, e.g. "app.css",
// "vendor/htmx.min.js", "vendor/pico.min.css", "vendor/xterm.js", "vendor/xterm.css".
func FS() fs.FS { return files }

// hashes maps each asset's name to the first 10 hex digits of its SHA-256.
// The files are embedded, so computing this once is enough.
var hashes = sync.OnceValue(func() map[string]string {
	m := map[string]string{}
	_ = fs.WalkDir(files, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(files, p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		m[p] = hex.EncodeToString(sum[:])[:10]
		return nil
	})
	return m
})

// URL is the content-hashed address of asset name: "app.css" becomes
// "/static/app.<hash>.css". A name that is not an asset keeps its plain
// address (and answers 404 when asked for).
func URL(name string) string {
	if u, ok := urls()[name]; ok {
		return u
	}
	return "/static/" + name
}

// urls holds every asset's hashed address, built once: each page links
// several assets, and building the strings per link showed in profiles.
var urls = sync.OnceValue(func() map[string]string {
	m := make(map[string]string, len(hashes()))
	for name, h := range hashes() {
		ext := path.Ext(name)
		m[name] = "/static/" + strings.TrimSuffix(name, ext) + "." + h + ext
	}
	return m
})

// Resolve turns a request path below /static/ into the asset's name and
// reports whether the path carried the asset's current hash. Plain names
// ("app.css") still resolve, for bookmarks and old pages.
func Resolve(p string) (name string, hashed bool) {
	ext := path.Ext(p)
	stem := strings.TrimSuffix(p, ext)
	if i := strings.LastIndexByte(stem, '.'); i >= 0 {
		candidate := stem[:i] + ext
		if h, ok := hashes()[candidate]; ok && h == stem[i+1:] {
			return candidate, true
		}
	}
	return p, false
}
