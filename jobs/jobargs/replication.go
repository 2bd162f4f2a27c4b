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

// ReplicaRemove removes a VM's replica volume from a host that is no
// longer its replica host, and the checkpoint the old copy was based on.
type ReplicaRemove struct {
	VMID       string `json:"vm_id"`
	HostID     string `json:"host_id"`
	Checkpoint string `json:"checkpoint,omitempty"`
}

func (ReplicaRemove) Kind() string { return "replication.remove" }
