// Package e2e drives the real portal — HTTP server, SQLite, River workers and
// a private libvirtd — through a headless Chromium, the way a member and an
// admin use it. It holds only tests; the load benchmark is in e2e/bench.
//
// The tests need Debian's Chromium at /usr/bin/chromium, libvirt and virsh
// (go tool task setup installs them) and root, for the private libvirtd's
// mount namespace. Screenshots land in e2e/artifacts/ for people to look at.
package e2e
