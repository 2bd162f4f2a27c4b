package jobargs

import "github.com/riverqueue/river"

// ReplicationSchedule is the periodic job that gives VMs without one a
// replica host, enqueues the runs that are due and marks lagging copies.
type ReplicationSchedule struct{}

func (ReplicationSchedule) Kind() string { return "replication.schedule" }

// ReplicationRun copies one VM's disk to its replica host.
type ReplicationRun struct {
	VMID string `json:"vm_id"`
}

func (ReplicationRun) Kind() string { return "replication.run" }

// QueueReplication is the queue of replication runs. Runs have workers of
// their own: a run holds its worker for seconds (a full copy for minutes),
// mostly waiting on libvirt, and ten VMs on a 30 s interval keep several
// busy. In the default queue they kept the schedule itself, metrics and
// VM jobs waiting behind them, and the lag of every VM grew with the wait
// (e2e/rpobench).
const QueueReplication = "replication"

// InsertOpts puts runs into their own queue; the options given at insert
// (uniqueness, attempts) come on top.
func (ReplicationRun) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueReplication}
}

// ReplicaRemove removes a VM's replica volume from a host that is no
// longer its replica host, and the checkpoint the old copy was based on.
type ReplicaRemove struct {
	VMID       string `json:"vm_id"`
	HostID     string `json:"host_id"`
	Checkpoint string `json:"checkpoint,omitempty"`
}

func (ReplicaRemove) Kind() string { return "replication.remove" }
