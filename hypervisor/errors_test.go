package hypervisor

import (
	"errors"
	"fmt"
	"testing"

	"github.com/digitalocean/go-libvirt"
)

func TestIsNotFound(t *testing.T) {
	noPool := libvirt.Error{Code: uint32(libvirt.ErrNoStoragePool), Message: "no pool"}
	cases := []struct {
		err  error
		want bool
	}{
		{noPool, true},
		{fmt.Errorf("lookup: %w", noPool), true},
		{libvirt.Error{Code: uint32(libvirt.ErrNoDomain)}, true},
		{libvirt.Error{Code: uint32(libvirt.ErrOperationFailed)}, false},
		{libvirt.Error{Code: uint32(libvirt.ErrAccessDenied)}, false},
		{libvirt.ErrInterrupted, false},
		{errors.New("no pool"), false},
		{nil, false},
	}
	for _, c := range cases {
		if got := IsNotFound(c.err); got != c.want {
			t.Errorf("IsNotFound(%v) = %v, want %v", c.err, got, c.want)
		}
	}
}

func TestMessage(t *testing.T) {
	wrapped := fmt.Errorf("start domain d on qemu+unix:///system?socket=/tmp/s: %w",
		libvirt.Error{Code: 38, Message: "Cannot access storage file 'x': Permission denied"})
	if msg, ok := Message(wrapped); !ok || msg != "Cannot access storage file 'x': Permission denied" {
		t.Errorf("Message = %q, %v", msg, ok)
	}
	if _, ok := Message(errors.New("x")); ok {
		t.Error("Message took a plain error for libvirt's")
	}
}
