package handlers

import (
	"context"
	"io"

	"allmende/models"
	"allmende/models/account"
)

// ConsoleOpener opens the serial console of a VM the viewer may see (and
// presses Ctrl-Alt-Del on its keyboard); the
// web layer implements it with the domain (authorisation, host) and the
// hypervisor (the stream), so handlers never speak libvirt.
type ConsoleOpener interface {
	OpenConsole(ctx context.Context, v models.Viewer, vmID string) (io.ReadWriteCloser, error)
	SendCtrlAltDel(ctx context.Context, v models.Viewer, vmID string) error
}

// viewer is the domain's view of who asks.
func viewer(u *account.User) models.Viewer {
	if u == nil {
		return models.Viewer{}
	}
	return models.Viewer{UserID: u.ID, Admin: u.Has(account.RoleAdmin)}
}
