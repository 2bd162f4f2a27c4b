package compute

import (
	"allmende/models"
	"allmende/models/rulebook"

	"gorm.io/gorm"
)

// PlacementGuard lets a domain ranked above compute take part in placing
// a VM, inside the transaction that places it, without compute importing
// it. Replication sets one (web wiring): it refuses a host whose standby
// could not take over its VMs (N+1) and gives the new VM its replica host
// in the same transaction.
type PlacementGuard interface {
	// Admit tells why host may not take a VM of size with its disk in
	// pool; "" admits it.
	Admit(tx *gorm.DB, hostID, pool string, size rulebook.Entitlement) (string, error)
	// Placed is called once the VM row (host and image copy chosen) exists,
	// in the same transaction.
	Placed(tx *gorm.DB, vm *VM, size rulebook.Entitlement) error
	// AdmitResize tells why vm, its disk in pool, may not grow from size
	// from to size to where it is, as a message for people (it may name a
	// host); the zero Msg admits it.
	AdmitResize(tx *gorm.DB, vm *VM, pool string, from, to rulebook.Entitlement) (models.Msg, error)
}

// SetPlacementGuard installs g for every later placement; call it while
// wiring, before the service is used.
func (s *VMs) SetPlacementGuard(g PlacementGuard) { s.guard = g }
