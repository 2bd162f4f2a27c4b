// Package jobargs holds the arguments of Allmende's background jobs.
//
// They sit apart from the workers so that the domain layer (models) can
// insert a job in the same transaction as the change that needs it, without
// importing the workers, which themselves import models.
package jobargs

// RefreshHost reads a host's inventory from libvirt and stores it.
type RefreshHost struct {
	HostID string `json:"host_id"`
}

func (RefreshHost) Kind() string { return "host.refresh" }

// RefreshAllHosts is the periodic job that asks every host for its inventory.
type RefreshAllHosts struct{}

func (RefreshAllHosts) Kind() string { return "host.refresh_all" }
