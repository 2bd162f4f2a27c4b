package hypervisor

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/digitalocean/go-libvirt"
	"github.com/google/uuid"
)

// DomainState is a domain's state as the portal cares about it.
type DomainState string

const (
	StateRunning  DomainState = "running"
	StateShutoff  DomainState = "shutoff"
	StatePaused   DomainState = "paused"
	StateShutdown DomainState = "shutdown" // shutting down, not yet off
	StateCrashed  DomainState = "crashed"
	StateMissing  DomainState = "missing" // no such domain
)

// DomainInfo is one domain in a listing.
type DomainInfo struct {
	Name  string
	UUID  string
	State DomainState
	// GuestShutdown: shut off because the guest itself powered off (libvirt's
	// shut-off reason "shutdown"), not because QEMU died or was killed.
	GuestShutdown bool
}

// DomainState returns the domain's state; StateMissing (not an error) if
// the host has no domain of that name.
func (m *Manager) DomainState(ctx context.Context, uri, name string) (DomainState, error) {
	st, err := call(ctx, m, uri, func(l *libvirt.Libvirt) (DomainState, error) {
		dom, err := l.DomainLookupByName(name)
		if IsNotFound(err) {
			return StateMissing, nil
		}
		if err != nil {
			return "", err
		}
		return domainState(l, dom)
	})
	if err != nil {
		return "", fmt.Errorf("state of domain %s on %s: %w", name, uri, err)
	}
	return st, nil
}

// domainState asks libvirt for a domain's state. A domain undefined
// meanwhile is StateMissing.
func domainState(l *libvirt.Libvirt, dom libvirt.Domain) (DomainState, error) {
	st, _, err := domainStateReason(l, dom)
	return st, err
}

// domainStateReason is domainState plus whether a shut-off domain was
// powered off by its guest.
func domainStateReason(l *libvirt.Libvirt, dom libvirt.Domain) (DomainState, bool, error) {
	st, reason, err := l.DomainGetState(dom, 0)
	if IsNotFound(err) {
		return StateMissing, false, nil
	}
	if err != nil {
		return "", false, err
	}
	state := stateOf(libvirt.DomainState(st))
	guest := state == StateShutoff && libvirt.DomainShutoffReason(reason) == libvirt.DomainShutoffShutdown
	return state, guest, nil
}

func stateOf(st libvirt.DomainState) DomainState {
	switch st {
	case libvirt.DomainRunning, libvirt.DomainBlocked: // blocked = running, waiting for I/O
		return StateRunning
	case libvirt.DomainShutdown:
		return StateShutdown
	case libvirt.DomainShutoff:
		return StateShutoff
	case libvirt.DomainCrashed:
		return StateCrashed
	default:
		// Paused, suspended by the guest (PM), or "no state": a QEMU
		// domain that exists but runs no guest code.
		return StatePaused
	}
}

// ListDomains lists the host's domains whose names start with prefix
// ("" for all), sorted by name.
func (m *Manager) ListDomains(ctx context.Context, uri, prefix string) ([]DomainInfo, error) {
	list, err := call(ctx, m, uri, func(l *libvirt.Libvirt) ([]DomainInfo, error) {
		// NeedResults=1: without it libvirt only returns the count.
		doms, _, err := l.ConnectListAllDomains(1, 0)
		if err != nil {
			return nil, err
		}
		var list []DomainInfo
		for _, d := range doms {
			if !strings.HasPrefix(d.Name, prefix) {
				continue
			}
			st, guest, err := domainStateReason(l, d)
			if err != nil {
				return nil, fmt.Errorf("state of %s: %w", d.Name, err)
			}
			if st == StateMissing {
				continue // undefined since the listing
			}
			list = append(list, DomainInfo{Name: d.Name, UUID: uuid.UUID(d.UUID).String(), State: st, GuestShutdown: guest})
		}
		slices.SortFunc(list, func(a, b DomainInfo) int { return strings.Compare(a.Name, b.Name) })
		return list, nil
	})
	if err != nil {
		return nil, fmt.Errorf("list domains on %s: %w", uri, err)
	}
	return list, nil
}

// WaitState polls the domain's state every poll (default 250 ms) until it
// is want, and fails when ctx ends first, saying which state it was in.
func (m *Manager) WaitState(ctx context.Context, uri, name string, want DomainState, poll time.Duration) error {
	if poll <= 0 {
		poll = 250 * time.Millisecond
	}
	t := time.NewTicker(poll)
	defer t.Stop()
	var last DomainState = "unknown"
	for {
		st, err := m.DomainState(ctx, uri, name)
		if err != nil && ctx.Err() == nil {
			return fmt.Errorf("wait for domain %s to be %s: %w", name, want, err)
		}
		if err == nil {
			if st == want {
				return nil
			}
			last = st
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for domain %s to be %s: still %s: %w", name, want, last, ctx.Err())
		case <-t.C:
		}
	}
}
