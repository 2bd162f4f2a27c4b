// Package static holds the embedded front-end assets: the vendored libraries in
// vendor/ (refreshed by update.sh from the versions pinned in package.json) and
// the application's own app.css and app.js. Nothing is loaded from a CDN.
package static

import (
	"embed"
	"io/fs"
)

//go:embed vendor app.css app.js console.js graphs.js
var files embed.FS

// FS returns the assets with paths relative to this directory, e.g. "app.css",
// "vendor/htmx.min.js", "vendor/pico.min.css", "vendor/xterm.js", "vendor/xterm.css".
func FS() fs.FS { return files }
