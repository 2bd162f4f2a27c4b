package hypervisor

import (
	"errors"

	"github.com/digitalocean/go-libvirt"
)

// ErrNotInstalled reports that libvirt (or something it needs on this
// machine, such as the libvirt-qemu user) is missing. The project's setup
// task installs it; the error text says so.
var ErrNotInstalled = errors.New("libvirtd is not installed: run: go tool task setup")

// ErrClosed is returned by Manager methods after Close.
var ErrClosed = errors.New("hypervisor manager is closed")

// notFoundCodes are libvirt's "no such object" error numbers. Only these mean
// "not found": any other failure (connection lost, permission denied, ...)
// must not be mistaken for a missing object.
var notFoundCodes = []libvirt.ErrorNumber{
	libvirt.ErrNoDomain,
	libvirt.ErrNoNetwork,
	libvirt.ErrNoStoragePool,
	libvirt.ErrNoStorageVol,
	libvirt.ErrNoNodeDevice,
	libvirt.ErrNoInterface,
	libvirt.ErrNoNwfilter,
	libvirt.ErrNoSecret,
	libvirt.ErrNoDomainSnapshot,
	libvirt.ErrNoDomainCheckpoint,
	libvirt.ErrNoNetworkPort,
}

// IsNotFound reports whether err is libvirt saying that the object asked for
// (domain, pool, volume, network, ...) does not exist.
func IsNotFound(err error) bool {
	return hasCode(err, notFoundCodes...)
}

// hasCode reports whether err is (or wraps) a libvirt.Error with one of the
// given codes.
func hasCode(err error, codes ...libvirt.ErrorNumber) bool {
	var lerr libvirt.Error
	if !errors.As(err, &lerr) {
		return false
	}
	for _, c := range codes {
		if lerr.Code == uint32(c) {
			return true
		}
	}
	return false
}

// Message is libvirt's own message when err is (or wraps) a libvirt error,
// without the chain of wrapping (host URIs, socket paths): the part of a
// failure a member can read. ok is false for any other error.
func Message(err error) (msg string, ok bool) {
	var lerr libvirt.Error
	if !errors.As(err, &lerr) {
		return "", false
	}
	return lerr.Message, true
}
