// Package crash kills the real portal (and its libvirtd) in the middle of
// VM jobs and checks that a restart finishes each job exactly once. Its
// Fixture, which prepares a running portal's database for VM jobs (host,
// plan, image, paying member), is shared with the VM benchmark
// (e2e/vmbench) and the in-process VM job tests (web).
package crash

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"allmende/jobs"
	"allmende/jobs/jobargs"
	"allmende/models"
	"allmende/models/account"
	"allmende/models/compute"
	"allmende/models/membership"
	"allmende/models/rulebook"
)

// Fixture is a portal's database, opened beside the running portal as
// the command line does, set up for VM jobs.
type Fixture struct {
	DB     *models.DB
	Queue  *jobs.Client // insert-only: the portal's workers do the work
	VMs    *compute.VMs
	Tasks  *compute.Tasks
	Plans  *compute.Plans
	Images *compute.Images
	Hosts  *compute.Hosts

	Admin        models.Actor
	AdminViewer  models.Viewer
	Member       models.Actor
	MemberViewer models.Viewer
	MemberToken  string // a personal access token of the member's, for the API
	Host         *compute.Host
	Small, Large *compute.Plan // 1 vCPU/128 MiB/1 GiB and 2 vCPU/192 MiB/2 GiB
	Image        *compute.Image
}

// Password is every fixture account's password, for signing in.
const Password = "correct horse battery"

// ImageBytes is the virtual size of the fixture's image; it fits the
// smallest plan.
const ImageBytes = 64 << 20

// Setup opens the database at dsn and prepares it: it waits for the
// portal's refresh job to find host "local" reachable, lets it take 20 VMs
// (CPU overcommit), adds plans, a paying member and an image, imported by
// the portal's image.import worker from a qcow2 file made with qemu-img in
// <dataDir>/uploads.
func Setup(ctx context.Context, dsn, dataDir string, log *slog.Logger) (*Fixture, error) {
	return SetupOn(ctx, dsn, dataDir, compute.LocalHostName, log)
}

// SetupOn is Setup on the portal's host called hostName (a host of the
// two-host rig) instead of "local": the image is imported there.
func SetupOn(ctx context.Context, dsn, dataDir, hostName string, log *slog.Logger) (_ *Fixture, err error) {
	db, err := models.Open(dsn)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			db.Close()
		}
	}()
	q, err := jobs.NewInsertOnly(db, log)
	if err != nil {
		return nil, err
	}
	clock := models.SystemClock{}
	rules := rulebook.NewRules(db, clock)
	members := membership.NewMemberships(db, q, rules, clock)
	accounts := account.NewAccounts(db)
	f := &Fixture{DB: db, Queue: q, Tasks: compute.NewTasks(db, q), Plans: compute.NewPlans(db), Images: compute.NewImages(db, q),
		Hosts: compute.NewHosts(db, q, func(string) error { return nil }),
		VMs:   compute.NewVMs(db, q, compute.MembershipEntitlements{Memberships: members}, clock)}

	sys := models.SystemActor("fixture")
	admin, err := accounts.Register(ctx, sys, account.RegisterInput{Email: "admin@fixture.example", Name: "Admin",
		Password: Password, Roles: []account.Role{account.RoleAdmin}})
	if err != nil {
		return nil, fmt.Errorf("admin: %w", err)
	}
	f.Admin, f.AdminViewer = models.Actor{UserID: admin.ID, Email: admin.Email}, models.Viewer{UserID: admin.ID, Admin: true}
	board, err := accounts.Register(ctx, sys, account.RegisterInput{Email: "board@fixture.example", Name: "Board",
		Password: Password, Roles: []account.Role{account.RoleBoard}})
	if err != nil {
		return nil, fmt.Errorf("board member: %w", err)
	}

	if f.Host, err = waitReachable(ctx, f.Hosts, hostName); err != nil {
		return nil, err
	}
	if err := f.Hosts.SetVMSettings(ctx, f.Admin, f.AdminViewer, f.Host.ID, compute.HostVMSettings{
		CPUOvercommitPercent: 2000, MemoryOvercommitPercent: 100, DomainType: "qemu"}); err != nil {
		return nil, fmt.Errorf("host settings: %w", err)
	}

	// One paid share entitles to plenty; one approval admits.
	from := time.Now().Add(-time.Hour)
	for k, v := range map[string]string{rulebook.RuleAdmissionApprovals: "1", rulebook.RuleEntitlementVCPUs: "64",
		rulebook.RuleEntitlementMemory: "65536", rulebook.RuleEntitlementDisk: "1000"} {
		if err := rules.Set(ctx, sys, k, v, from, "fixture"); err != nil {
			return nil, fmt.Errorf("rule %s: %w", k, err)
		}
	}
	u, err := accounts.Register(ctx, sys, account.RegisterInput{Email: "member@fixture.example", Name: "Member",
		Password: Password})
	if err != nil {
		return nil, fmt.Errorf("member: %w", err)
	}
	p, err := rules.Current(ctx)
	if err != nil {
		return nil, err
	}
	m, err := members.Apply(ctx, models.Actor{UserID: u.ID, Email: u.Email}, u.ID, membership.ApplicationInput{
		PersonKind: membership.PersonNatural, LegalName: "Member", Street: "Hauptstr. 1", PostalCode: "10115", City: "Berlin",
		Country: "DE", Shares: 1, AcceptBylaws: true, BylawsVersion: p.BylawsVersion, AcknowledgeNoticePeriod: true})
	if err != nil {
		return nil, fmt.Errorf("apply: %w", err)
	}
	boardActor := models.Actor{UserID: board.ID, Email: board.Email}
	if _, err := members.Approve(ctx, boardActor, m.ID); err != nil {
		return nil, fmt.Errorf("admit: %w", err)
	}
	if err := members.RecordPayment(ctx, boardActor, m.ID, p.SharePriceCents, time.Now(), "fixture"); err != nil {
		return nil, fmt.Errorf("payment: %w", err)
	}
	f.Member, f.MemberViewer = models.Actor{UserID: u.ID, Email: u.Email}, models.Viewer{UserID: u.ID}
	if _, f.MemberToken, err = account.NewTokens(db, accounts).Create(ctx, sys, u.ID, "fixture"); err != nil {
		return nil, fmt.Errorf("token: %w", err)
	}

	if f.Small, err = f.Plans.Create(ctx, f.Admin, f.AdminViewer, compute.PlanInput{Name: "small", VCPUs: 1, MemoryMiB: 128, DiskGiB: 1}); err != nil {
		return nil, fmt.Errorf("plan: %w", err)
	}
	if f.Large, err = f.Plans.Create(ctx, f.Admin, f.AdminViewer, compute.PlanInput{Name: "large", VCPUs: 2, MemoryMiB: 192, DiskGiB: 2}); err != nil {
		return nil, fmt.Errorf("plan: %w", err)
	}
	if f.Image, err = f.importImage(ctx, dataDir); err != nil {
		return nil, err
	}
	return f, nil
}

func waitReachable(ctx context.Context, hosts *compute.Hosts, name string) (*compute.Host, error) {
	deadline := time.Now().Add(60 * time.Second)
	for {
		list, err := hosts.List(ctx)
		if err != nil {
			return nil, err
		}
		for _, h := range list {
			if h.Name == name && h.Reachable && len(h.PoolList()) > 0 {
				return &h, nil
			}
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("host %s was not refreshed within 60 s", name)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// importImage makes a small empty qcow2 file and has the portal import it.
func (f *Fixture) importImage(ctx context.Context, dataDir string) (*compute.Image, error) {
	dir := filepath.Join(dataDir, "uploads")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	path := filepath.Join(dir, "fixture.qcow2")
	if out, err := exec.Command("qemu-img", "create", "-q", "-f", "qcow2", path, fmt.Sprint(ImageBytes)).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("qemu-img: %v: %s", err, out)
	}
	img, err := f.Images.BeginUpload(ctx, f.Admin, f.AdminViewer, compute.UploadInput{Name: "tiny", HostID: f.Host.ID,
		Pool: "default", Format: compute.FormatQCOW2, Path: path})
	if err != nil {
		return nil, fmt.Errorf("upload image: %w", err)
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		got, err := f.Images.Get(ctx, f.AdminViewer, img.ID)
		if err != nil {
			return nil, err
		}
		switch got.Status {
		case compute.ImageReady:
			return got, nil
		case compute.ImageFailed:
			return nil, fmt.Errorf("image import failed: %s", got.Error)
		}
		if time.Now().After(deadline) {
			return nil, errors.New("image not imported within 60 s")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Close closes the database.
func (f *Fixture) Close() error { return f.DB.Close() }

// CreateVM asks for a VM of the member's, as the portal's create request
// does.
func (f *Fixture) CreateVM(ctx context.Context, name string, plan *compute.Plan) (*compute.VM, *compute.Task, error) {
	return f.VMs.Create(ctx, f.Member, f.MemberViewer, compute.VMInput{Name: name, PlanID: plan.ID, ImageID: f.Image.ID})
}

// CreateVMAPI asks for a VM through the portal's API at base
// (http://host:port), as a member's script would, and returns the ids of
// the VM and of its create task.
func (f *Fixture) CreateVMAPI(ctx context.Context, base, name string, plan *compute.Plan) (vmID, taskID string, err error) {
	body, _ := json.Marshal(map[string]string{"name": name, "plan_id": plan.ID, "image_id": f.Image.ID})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/api/v1/vms", bytes.NewReader(body))
	if err != nil {
		return "", "", err
	}
	req.Header.Set("Authorization", "Bearer "+f.MemberToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusAccepted {
		return "", "", fmt.Errorf("POST /api/v1/vms: %s: %s", resp.Status, b)
	}
	var out struct {
		VM   struct{ ID string }
		Task struct{ ID string }
	}
	if err := json.Unmarshal(b, &out); err != nil || out.VM.ID == "" || out.Task.ID == "" {
		return "", "", fmt.Errorf("POST /api/v1/vms: unexpected answer %s (%v)", b, err)
	}
	return out.VM.ID, out.Task.ID, nil
}

// WaitTask waits until the task has finished and returns it.
func (f *Fixture) WaitTask(ctx context.Context, taskID string, timeout time.Duration) (*compute.TaskDetail, error) {
	deadline := time.Now().Add(timeout)
	for {
		t, err := f.Tasks.Get(ctx, f.AdminViewer, taskID)
		if err != nil {
			return nil, err
		}
		if !t.Active() {
			return t, nil
		}
		if time.Now().After(deadline) {
			return t, fmt.Errorf("task %s (%s) still %s after %s; log: %s", taskID, t.Kind, t.Status, timeout, TaskLog(t))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TaskLog joins a task's log lines.
func TaskLog(t *compute.TaskDetail) string {
	lines := make([]string, len(t.Lines))
	for i, l := range t.Lines {
		lines[i] = l.Line
	}
	return strings.Join(lines, " | ")
}

// Reconcile asks for a reconcile run now.
func (f *Fixture) Reconcile(ctx context.Context) error {
	_, err := f.Queue.Insert(ctx, jobargs.Reconcile{}, nil)
	return err
}

// Virsh runs virsh against uri and returns its output.
func Virsh(uri string, args ...string) (string, error) {
	out, err := exec.Command("virsh", append([]string{"-c", uri}, args...)...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("virsh %s: %v: %s", strings.Join(args, " "), err, out)
	}
	return string(out), nil
}
