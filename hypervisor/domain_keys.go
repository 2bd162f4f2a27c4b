package hypervisor

import (
	"context"

	"github.com/digitalocean/go-libvirt"
)

// Linux input key codes (linux/input-event-codes.h).
const (
	keyLeftCtrl = 29
	keyLeftAlt  = 56
	keyDelete   = 111
)

// SendCtrlAltDel presses Ctrl-Alt-Del on the running domain's keyboard, as
// a person at its screen would; most systems reboot on it, and a hung
// login on the serial console can be got past this way. A domain that is
// not running has no keyboard: ErrDomainNotRunning.
func (m *Manager) SendCtrlAltDel(ctx context.Context, uri, name string) error {
	return m.domainOp(ctx, uri, name, "send Ctrl-Alt-Del to", false, func(l *libvirt.Libvirt, dom libvirt.Domain) error {
		active, err := domainActive(l, dom)
		if err != nil {
			return err
		}
		if !active {
			return ErrDomainNotRunning
		}
		return l.DomainSendKey(dom, uint32(libvirt.KeycodeSetLinux), 0, []uint32{keyLeftCtrl, keyLeftAlt, keyDelete}, 0)
	})
}
