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
