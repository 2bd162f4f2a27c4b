package hvtest

import "github.com/digitalocean/go-libvirt"

// LibvirtError is an error as libvirt returns it, for tests of code that
// turns libvirt's failures into readable reasons without importing libvirt.
func LibvirtError(code uint32, message string) error {
	return libvirt.Error{Code: code, Message: message}
}
