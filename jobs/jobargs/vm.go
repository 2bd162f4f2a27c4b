package jobargs

// VM jobs carry the VM and the task (the entry in the member-visible task
// log) they work for. The domain layer moves the VM into a transitional
// state when it enqueues one, so at most one job acts on a VM at a time.

// VMTask names the VM and its task.
type VMTask struct {
	VMID   string `json:"vm_id"`
	TaskID string `json:"task_id"`
}

// VMCreate provisions volumes, the cloud-init seed and the domain, then starts it.
type VMCreate struct{ VMTask }

func (VMCreate) Kind() string { return "vm.create" }

// VMStart starts a stopped VM.
type VMStart struct{ VMTask }

func (VMStart) Kind() string { return "vm.start" }

// VMShutdown asks the guest to shut down (ACPI) and powers it off after
// the VM's shutdown timeout.
type VMShutdown struct{ VMTask }

func (VMShutdown) Kind() string { return "vm.shutdown" }

// VMPowerOff stops the VM at once.
type VMPowerOff struct{ VMTask }

func (VMPowerOff) Kind() string { return "vm.poweroff" }

// VMReboot restarts the guest.
type VMReboot struct{ VMTask }

func (VMReboot) Kind() string { return "vm.reboot" }

// VMResize applies the VM's new plan (vCPU/RAM while stopped; disk grows only).
type VMResize struct{ VMTask }

func (VMResize) Kind() string { return "vm.resize" }

// VMDelete removes the domain, its volumes and its seed image.
type VMDelete struct{ VMTask }

func (VMDelete) Kind() string { return "vm.delete" }

// Reconcile compares what the database wants with what libvirt has.
type Reconcile struct{}

func (Reconcile) Kind() string { return "vm.reconcile" }

// ImageImport streams an uploaded image file into a host's storage pool.
type ImageImport struct {
	ImageID string `json:"image_id"`
	Path    string `json:"path"` // the uploaded file under the data dir
}

func (ImageImport) Kind() string { return "image.import" }

// StarterBuild builds the starter guest's files (package starter) and
// imports them into the host's pool as the starter images.
type StarterBuild struct {
	HostID string `json:"host_id"`
}

func (StarterBuild) Kind() string { return "starter.build" }
