package jobs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"allmende/hypervisor"
	"allmende/jobs/jobargs"
	"allmende/models"
	"allmende/models/compute"
)

// VMHypervisor is the part of the hypervisor layer the VM, image and
// reconcile workers use; *hypervisor.Manager satisfies it.
type VMHypervisor interface {
	Hypervisor
	CreateDiskVolume(ctx context.Context, uri, pool, name string, sizeBytes uint64, backing *hypervisor.VolumeRef) (hypervisor.VolumeInfo, error)
	ResizeVolume(ctx context.Context, uri, pool, name string, sizeBytes uint64) error
	DeleteVolume(ctx context.Context, uri, pool, name string) error
	VolumeInfo(ctx context.Context, uri, pool, name string) (hypervisor.VolumeInfo, error)
	UploadVolume(ctx context.Context, uri, pool, name, format string, size uint64, r io.Reader) error
	UploadSeed(ctx context.Context, uri, pool, name string, iso []byte) error
	DefineDomain(ctx context.Context, uri string, spec hypervisor.DomainSpec) error
	StartDomain(ctx context.Context, uri, name string) error
	ShutdownDomain(ctx context.Context, uri, name string) error
	DestroyDomain(ctx context.Context, uri, name string) error
	RebootDomain(ctx context.Context, uri, name string) error
	UndefineDomain(ctx context.Context, uri, name string) error
	DomainState(ctx context.Context, uri, name string) (hypervisor.DomainState, error)
	ListDomains(ctx context.Context, uri, prefix string) ([]hypervisor.DomainInfo, error)
	WaitState(ctx context.Context, uri, name string, want hypervisor.DomainState, poll time.Duration) error
}

// Timeouts of one attempt of the VM jobs. Each is well below
// rescueStuckJobsAfter (client.go): River's rescuer never hands a job to
// another worker before the job's own timeout has passed, and a job past
// its timeout has had its context cancelled, which every libvirt call
// honours; so a live worker has let go of a job before anyone else may
// take it.
const (
	vmJobTimeout = 90 * time.Second
	// waitRunning bounds how long a started domain may take to report
	// running; QEMU under TCG with 20 guests starting at once is slow.
	waitRunning = 60 * time.Second
	// statePoll is how often WaitState looks; libvirt answers in well under
	// a millisecond on a local socket, and the create latency counts it.
	statePoll = 50 * time.Millisecond
)

// vmRetryDelays replace River's default backoff (attempt⁴ seconds: up to
// 4 minutes before the 5th attempt) for VM jobs: a member waits for the
// outcome, and the hypervisor layer already redials a lost libvirtd for up
// to 30 s inside one attempt.
var vmRetryDelays = []time.Duration{time.Second, 4 * time.Second, 15 * time.Second, 30 * time.Second}

// vmJob is embedded by every VM worker: River's defaults, the shared
// worker dependencies, and the VM jobs' common timeout and retry schedule.
type vmJob[T river.JobArgs] struct {
	river.WorkerDefaults[T]
	*vmWorkers
}

func (vmJob[T]) Timeout(*river.Job[T]) time.Duration { return vmJobTimeout }

func (vmJob[T]) NextRetry(j *river.Job[T]) time.Time { return vmNextRetry(j.JobRow) }

func vmNextRetry(job *rivertype.JobRow) time.Time {
	i := min(max(job.Attempt-1, 0), len(vmRetryDelays)-1)
	return time.Now().Add(vmRetryDelays[i])
}

// vmWorkers holds what every VM worker needs.
type vmWorkers struct {
	vms    *compute.VMs
	tasks  *compute.Tasks
	hv     VMHypervisor
	logger *slog.Logger
	// domainType is used for hosts whose setting leaves it open: "qemu"
	// (TCG) unless configured otherwise, since KVM boots were seen to hang
	// on machines of this kind (docs: libvirt notes).
	domainType string
}

// vmRun is one attempt of a VM job: the job, the VM as the worker found
// it, and the step being worked on, for the failure reason.
type vmRun struct {
	*vmWorkers
	job  *rivertype.JobRow
	args jobargs.VMTask
	v    *compute.VMJobView
	step string
}

// permanentError marks an error that retrying cannot fix.
type permanentError struct{ err error }

func (e permanentError) Error() string { return e.err.Error() }
func (e permanentError) Unwrap() error { return e.err }

func permanent(format string, a ...any) error {
	return permanentError{fmt.Errorf(format, a...)}
}

func isPermanent(err error) bool {
	var p permanentError
	return errors.As(err, &p) || errors.Is(err, hypervisor.ErrShrink)
}

// run is the frame of every VM job: load the VM, take up the task, skip
// the work if an earlier attempt finished it, run fn, and turn its error
// into a retry or, on a permanent error or the last attempt, a failed task
// and a cancelled job.
func (w *vmWorkers) run(ctx context.Context, job *rivertype.JobRow, args jobargs.VMTask, fn func(context.Context, *vmRun) error) error {
	v, err := w.vms.ForJob(ctx, args.VMID)
	if models.IsNotFound(err) {
		return river.JobCancel(fmt.Errorf("vm %s of task %s no longer exists", args.VMID, args.TaskID))
	}
	if err != nil {
		return fmt.Errorf("load vm %s: %w", args.VMID, err)
	}
	if err := w.tasks.Start(ctx, args.TaskID); err != nil {
		if de, ok := models.AsError(err); ok && de.Code == http.StatusConflict {
			// An earlier attempt finished the task and then lost the
			// race with River (crash before the job was marked
			// complete): there is nothing left to do.
			return nil
		}
		if models.IsNotFound(err) {
			return river.JobCancel(fmt.Errorf("task %s no longer exists", args.TaskID))
		}
		return fmt.Errorf("start task %s: %w", args.TaskID, err)
	}
	r := &vmRun{vmWorkers: w, job: job, args: args, v: v}
	if !v.VM.State.Transitional() {
		// The task is active, so the VM entered this job's transitional
		// state; that it has left it means an earlier attempt set the
		// outcome and stopped short of recording the task's success.
		return r.succeed(ctx)
	}
	if job.Attempt > 1 {
		if err := r.log(ctx, fmt.Sprintf("retrying (attempt %d of %d)", job.Attempt, job.MaxAttempts)); err != nil {
			return err
		}
	}
	err = fn(ctx, r)
	if err == nil {
		return nil
	}
	return r.fail(ctx, err)
}

// fail decides between River's retry and giving up.
func (r *vmRun) fail(ctx context.Context, err error) error {
	var snooze *rivertype.JobSnoozeError
	if errors.As(err, &snooze) {
		return err
	}
	if r.step != "" {
		err = fmt.Errorf("%s: %w", r.step, err)
	}
	if !isPermanent(err) && r.job.Attempt < r.job.MaxAttempts {
		r.logger.Warn("vm job failed; River retries it", "kind", r.job.Kind, "job_id", r.job.ID, "vm", r.args.VMID,
			"attempt", r.job.Attempt, "err", err)
		return err
	}
	// The job's context may be what ended the attempt: recording the
	// failure must not depend on it.
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 15*time.Second)
	defer cancel()
	if ferr := r.tasks.Fail(fctx, r.args.TaskID, readable(r.step, err)); ferr != nil {
		// Without the record the VM would wait in its transitional state
		// forever: let River try again (or discard on the last attempt,
		// which the reconciler's abandoned-task sweep picks up).
		return errors.Join(err, fmt.Errorf("record failure of task %s: %w", r.args.TaskID, ferr))
	}
	r.logger.Error("vm job gave up", "kind", r.job.Kind, "job_id", r.job.ID, "vm", r.args.VMID,
		"attempt", r.job.Attempt, "permanent", isPermanent(err), "err", err)
	return river.JobCancel(err)
}

// readable is the reason a member reads: the step and libvirt's own
// message, without the chain of wrapping (host URIs, socket paths).
func readable(step string, err error) error {
	msg := err.Error()
	var p permanentError
	lmsg, fromLibvirt := hypervisor.Message(err)
	switch {
	case errors.As(err, &p):
		msg = p.err.Error()
	case fromLibvirt:
		msg = lmsg
	case errors.Is(err, context.DeadlineExceeded):
		msg = "timed out"
	}
	safe := msg
	if step != "" && !strings.HasPrefix(msg, step) {
		safe = step + ": " + msg
	}
	return &models.Error{Code: http.StatusInternalServerError, Safe: safe, Err: err}
}

// begin logs the next step to the task and remembers it for the failure
// reason.
func (r *vmRun) begin(ctx context.Context, step string) error {
	r.step = step
	return r.log(ctx, step)
}

func (r *vmRun) log(ctx context.Context, line string) error {
	if err := r.tasks.Log(ctx, r.args.TaskID, line); err != nil {
		return fmt.Errorf("log to task %s: %w", r.args.TaskID, err)
	}
	return nil
}

// settle records the VM's new state and the task's success.
func (r *vmRun) settle(ctx context.Context, state compute.VMState) error {
	r.step = ""
	if err := r.vms.SetState(ctx, r.v.VM.ID, state, ""); err != nil {
		return fmt.Errorf("set state of vm %s: %w", r.v.VM.ID, err)
	}
	return r.succeed(ctx)
}

func (r *vmRun) succeed(ctx context.Context) error {
	if err := r.tasks.Succeed(ctx, r.args.TaskID); err != nil {
		return fmt.Errorf("finish task %s: %w", r.args.TaskID, err)
	}
	return nil
}

// domainType is the libvirt domain type for the VM's host.
func (r *vmRun) domainType() string {
	if t := r.v.DomainType; t == "kvm" || t == "qemu" {
		return t
	}
	return r.vmWorkers.domainType
}

// spec is the VM's domain: the disk (virtio, qcow2), the cloud-init seed
// (cdrom, raw) and a NIC when the VM has a network.
func (r *vmRun) spec() hypervisor.DomainSpec {
	v := r.v
	s := hypervisor.DomainSpec{
		Name: v.DomainName, UUID: v.VM.ID, Type: r.domainType(), VCPUs: v.VCPUs, MemoryMiB: v.MemoryMiB,
		Disks: []hypervisor.DiskSpec{
			{Pool: v.DiskPool, Volume: v.DiskVolume, Device: "disk", Bus: "virtio", Format: compute.FormatQCOW2},
			{Pool: v.DiskPool, Volume: v.SeedVolume, Device: "cdrom", Format: compute.FormatRaw},
		},
		Description: "allmende vm " + v.VM.ID,
	}
	if v.NetworkLibvirtName != "" || v.NetworkBridge != "" {
		s.Network = &hypervisor.NICSpec{Network: v.NetworkLibvirtName, Bridge: v.NetworkBridge, MAC: v.MAC}
	}
	return s
}

// domainSpec is spec with the image's direct kernel boot, if it has one:
// every definition of the domain (create, resize) must carry it, or a
// redefinition would drop it.
func (r *vmRun) domainSpec(ctx context.Context) (hypervisor.DomainSpec, error) {
	spec := r.spec()
	err := r.kernelBoot(ctx, &spec)
	return spec, err
}

// kernelBoot sets up direct kernel boot when the VM's image asks for it.
// The domain XML takes host file paths, not volumes, so the kernel's and
// initrd's volumes are looked up on the host; a volume that is missing is
// the image's fault, which retrying cannot fix.
func (r *vmRun) kernelBoot(ctx context.Context, spec *hypervisor.DomainSpec) error {
	v := r.v
	if v.KernelVolume == "" {
		return nil
	}
	if err := r.begin(ctx, fmt.Sprintf("looking up kernel %s of image %s", v.KernelVolume, v.ImageVolume)); err != nil {
		return err
	}
	path := func(vol string) (string, error) {
		info, err := r.hv.VolumeInfo(ctx, v.HostURI, v.ImagePool, vol)
		if hypervisor.IsNotFound(err) {
			return "", permanent("volume %s of the image is not in pool %s", vol, v.ImagePool)
		}
		if err != nil {
			return "", err
		}
		return info.Path, nil
	}
	var err error
	if spec.Kernel, err = path(v.KernelVolume); err != nil {
		return err
	}
	if v.InitrdVolume != "" {
		if spec.Initrd, err = path(v.InitrdVolume); err != nil {
			return err
		}
	}
	spec.Cmdline = v.KernelCmdline
	return nil
}

// seed is the VM's cloud-init seed: host name, keys, user data, and the
// static address when it has one.
func (r *vmRun) seed() hypervisor.Seed {
	v := r.v
	s := hypervisor.Seed{InstanceID: v.VM.ID, Hostname: v.Hostname, SSHKeys: v.SSHAuthorizedKeys, UserData: v.UserData}
	if v.IPAddress != "" && v.MAC != "" {
		s.Network = &hypervisor.SeedNetwork{MAC: v.MAC, Address: fmt.Sprintf("%s/%d", v.IPAddress, v.PrefixLength),
			Gateway: v.Gateway, DNS: v.DNS}
	}
	return s
}

func (r *vmRun) diskBytes() uint64 { return uint64(r.v.DiskGiB) << 30 }

// growDisk grows the VM's disk to its plan if it is smaller. Only for a
// domain that is not running: QEMU holds a write lock on the file.
func (r *vmRun) growDisk(ctx context.Context) error {
	v := r.v
	info, err := r.hv.VolumeInfo(ctx, v.HostURI, v.DiskPool, v.DiskVolume)
	if err != nil {
		return err
	}
	if info.CapacityBytes >= r.diskBytes() {
		return nil
	}
	if err := r.begin(ctx, fmt.Sprintf("growing disk to %d GiB", v.DiskGiB)); err != nil {
		return err
	}
	return r.hv.ResizeVolume(ctx, v.HostURI, v.DiskPool, v.DiskVolume, r.diskBytes())
}

// waitRunning waits for the domain to report running.
func (r *vmRun) waitState(ctx context.Context, want hypervisor.DomainState) error {
	wctx, cancel := context.WithTimeout(ctx, waitRunning)
	defer cancel()
	return r.hv.WaitState(wctx, r.v.HostURI, r.v.DomainName, want, statePoll)
}

// active reports whether a domain in state st runs guest code or holds
// its resources (paused, shutting down).
func active(st hypervisor.DomainState) bool {
	return st == hypervisor.StateRunning || st == hypervisor.StatePaused || st == hypervisor.StateShutdown
}
