package jobargs

// ReplicationFailover starts one VM of a fenced host on its replica host
// from the last good copy; the task is the VM's "failover" task.
type ReplicationFailover struct {
	VMTask
	FailoverID string `json:"failover_id"`
	FromHostID string `json:"from_host_id"`
	ToHostID   string `json:"to_host_id"`
}

func (ReplicationFailover) Kind() string { return "replication.failover" }

// HostFence runs the configured fence command against a host that stopped
// answering and, when it succeeds, fails the host's VMs over in the name of
// the admin who asked.
type HostFence struct {
	HostID string `json:"host_id"`
	UserID string `json:"user_id"`
	Email  string `json:"email"`
	IP     string `json:"ip"`
}

func (HostFence) Kind() string { return "host.fence" }

// ReclaimHosts is the periodic job that looks at fenced hosts: one that
// answers again has the stale copies of its failed-over VMs removed
// (never started) and, once none is left, is no longer fenced.
type ReclaimHosts struct{}

func (ReclaimHosts) Kind() string { return "replication.reclaim" }

// ReplicationSwitchover moves a running VM of a host that answers to its
// replica host, planned (the "switchover" task): a final copy, then the
// VM runs on the replica host and the old host becomes the replica host.
type ReplicationSwitchover struct {
	VMTask
	FromHostID     string `json:"from_host_id"`
	ToHostID       string `json:"to_host_id"`
	FromHostName   string `json:"from_host_name"`
	ToHostName     string `json:"to_host_name"`
	Pool           string `json:"pool"`
	OldVolume      string `json:"old_volume"`  // the disk on the old host
	CopyVolume     string `json:"copy_volume"` // the copy on the new host
	NewVolume      string `json:"new_volume"`  // the overlay over it
	DiskGeneration int64  `json:"disk_generation"`
	FromCheckpoint string `json:"from_checkpoint"` // the last good copy's
	NewCheckpoint  string `json:"new_checkpoint"`
}

func (ReplicationSwitchover) Kind() string { return "replication.switchover" }
