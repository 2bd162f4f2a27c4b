package hypervisor

import (
	"context"
	"fmt"

	"github.com/digitalocean/go-libvirt"
)

// Every operation here is idempotent, because the jobs calling them are
// retried after crashes: each looks at the domain first and does nothing if
// it is already where the operation would take it. Each also tolerates
// losing a race to another caller doing the same (the libvirt call fails,
// but the domain ends up as wanted).

// StartDomain boots a defined domain. It does nothing if the domain is
// already active (running or paused).
func (m *Manager) StartDomain(ctx context.Context, uri, name string) error {
	return m.domainOp(ctx, uri, name, "start", false, func(l *libvirt.Libvirt, dom libvirt.Domain) error {
		return startDomain(l, dom)
	})
}

func startDomain(l *libvirt.Libvirt, dom libvirt.Domain) error {
	active, err := domainActive(l, dom)
	if err != nil || active {
		return err
	}
	if err := l.DomainCreate(dom); err != nil && !confirmActive(l, dom, true) {
		return err
	}
	return nil
}

// ShutdownDomain asks the guest to power off (ACPI power button) and
// returns without waiting; see WaitState. It does nothing if the domain is
// not running or does not exist. A guest may ignore the request.
func (m *Manager) ShutdownDomain(ctx context.Context, uri, name string) error {
	return m.domainOp(ctx, uri, name, "shut down", true, func(l *libvirt.Libvirt, dom libvirt.Domain) error {
		active, err := domainActive(l, dom)
		if err != nil || !active {
			return err
		}
		if err := l.DomainShutdownFlags(dom, libvirt.DomainShutdownAcpiPowerBtn); err != nil && !confirmActive(l, dom, false) {
			return err
		}
		return nil
	})
}

// DestroyDomain powers the domain off at once, like pulling the plug. It
// does nothing if the domain is not running or does not exist.
func (m *Manager) DestroyDomain(ctx context.Context, uri, name string) error {
	return m.domainOp(ctx, uri, name, "destroy", true, destroyDomain)
}

func destroyDomain(l *libvirt.Libvirt, dom libvirt.Domain) error {
	active, err := domainActive(l, dom)
	if err != nil || !active {
		return err
	}
	if err := l.DomainDestroy(dom); err != nil && !confirmActive(l, dom, false) {
		return err
	}
	return nil
}

// RebootDomain asks a running guest to reboot (ACPI) and returns without
// waiting. A domain that is shut off is started instead, so that a retried
// reboot job always ends with the guest up.
func (m *Manager) RebootDomain(ctx context.Context, uri, name string) error {
	return m.domainOp(ctx, uri, name, "reboot", false, func(l *libvirt.Libvirt, dom libvirt.Domain) error {
		active, err := domainActive(l, dom)
		if err != nil {
			return err
		}
		if !active {
			return startDomain(l, dom)
		}
		return l.DomainReboot(dom, libvirt.DomainRebootAcpiPowerBtn)
	})
}

// UndefineDomain removes the domain: it is destroyed first if running, and
// its managed save image, NVRAM, TPM state and snapshot and checkpoint
// metadata go with it. Its disks' volumes stay (see DeleteVolume). It does
// nothing if the domain does not exist.
func (m *Manager) UndefineDomain(ctx context.Context, uri, name string) error {
	return m.domainOp(ctx, uri, name, "undefine", true, func(l *libvirt.Libvirt, dom libvirt.Domain) error {
		if err := destroyDomain(l, dom); err != nil {
			return fmt.Errorf("destroy: %w", err)
		}
		const flags = libvirt.DomainUndefineManagedSave | libvirt.DomainUndefineSnapshotsMetadata |
			libvirt.DomainUndefineCheckpointsMetadata | libvirt.DomainUndefineNvram | libvirt.DomainUndefineTpm
		if err := l.DomainUndefineFlags(dom, flags); err != nil && !IsNotFound(err) {
			return err
		}
		return nil
	})
}

// domainOp looks the domain up and runs fn on it. If the domain does not
// exist, that is success when missingOK, else an error IsNotFound knows.
// A domain that vanishes while fn runs counts as missing too.
func (m *Manager) domainOp(ctx context.Context, uri, name, what string, missingOK bool,
	fn func(*libvirt.Libvirt, libvirt.Domain) error) error {
	_, err := call(ctx, m, uri, func(l *libvirt.Libvirt) (struct{}, error) {
		dom, err := l.DomainLookupByName(name)
		if err == nil {
			err = fn(l, dom)
		}
		if missingOK && hasCode(err, libvirt.ErrNoDomain) {
			return struct{}{}, nil
		}
		return struct{}{}, err
	})
	if err != nil {
		return fmt.Errorf("%s domain %s on %s: %w", what, name, uri, err)
	}
	return nil
}

// domainActive reports whether the domain runs (or is paused).
func domainActive(l *libvirt.Libvirt, dom libvirt.Domain) (bool, error) {
	active, err := l.DomainIsActive(dom)
	if err != nil {
		return false, fmt.Errorf("state: %w", err)
	}
	return active != 0, nil
}

// confirmActive reports whether the domain is now known to be active (or
// known not to be, for want false). After a failed call it tells a lost
// race (another caller did the same: success) from a real failure.
func confirmActive(l *libvirt.Libvirt, dom libvirt.Domain, want bool) bool {
	active, err := domainActive(l, dom)
	return err == nil && active == want
}

// SuspendDomain pauses a running domain's vCPUs (the guest keeps its
// memory and devices). It does nothing if the domain is paused already.
func (m *Manager) SuspendDomain(ctx context.Context, uri, name string) error {
	return m.domainOp(ctx, uri, name, "suspend", false, func(l *libvirt.Libvirt, dom libvirt.Domain) error {
		st, err := domainState(l, dom)
		if err != nil || st == StatePaused {
			return err
		}
		return l.DomainSuspend(dom)
	})
}

// ResumeDomain lets a paused domain run again. It does nothing if the
// domain is not paused.
func (m *Manager) ResumeDomain(ctx context.Context, uri, name string) error {
	return m.domainOp(ctx, uri, name, "resume", false, func(l *libvirt.Libvirt, dom libvirt.Domain) error {
		st, err := domainState(l, dom)
		if err != nil || st != StatePaused {
			return err
		}
		return l.DomainResume(dom)
	})
}
