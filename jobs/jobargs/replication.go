package jobargs

// ReplicationSchedule is the periodic job that gives VMs without one a
// replica host, enqueues the runs that are due and marks lagging copies.
type ReplicationSchedule struct{}

func (ReplicationSchedule) Kind() string { return "replication.schedule" }

// ReplicationRun copies one VM's disk to its replica host.
type ReplicationRun struct {
	VMID string `json:"vm_id"`
}

func (ReplicationRun) Kind() string { return "replication.run" }
