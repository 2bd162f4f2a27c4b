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
