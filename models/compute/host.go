package compute

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"gorm.io/gorm"

	"allmende/jobs/jobargs"
	"allmende/models"
	"allmende/models/internal/kit"
)

// LocalHostName is the host under which `serve --libvirt auto` registers its
// private libvirtd.
const LocalHostName = "local"

// HostRoleCompute runs members' VMs. Replication will add a replica role.
const HostRoleCompute = "compute"

// Host is a libvirt host of the cooperative with the inventory last read
// from it by the host.refresh job.
type Host struct {
	ID                 string
	Name               string
	URI                string `gorm:"column:uri"`
	Role               string
	CreatedAt          time.Time
	UpdatedAt          time.Time
	RefreshRequestedAt *time.Time
	RefreshedAt        *time.Time
	Reachable          bool
	LastError          string
	Hostname           string
	CPUs               int64 `gorm:"column:cpus"`
	CPUModel           string
	MemoryBytes        int64
	FreeMemoryBytes    int64
	LibvirtVersion     string
	HypervisorVersion  string
	Pools              string // JSON []HostPool; use PoolList
	// Fencing (models/replication, failover.go): set while the host is
	// known off or cut off and its VMs may run elsewhere.
	FencedAt      *time.Time
	FencedBy      string // who confirmed it (an email, or system:…)
	FenceMethod   string // "confirmed by admin" | "fence command"
	FailoverEpoch int64  // how often the host was fenced
}

// Fenced reports whether the host is known off or cut off.
func (h *Host) Fenced() bool { return h.FencedAt != nil }

// NotAnswering reports whether the host's last inventory read failed.
func (h *Host) NotAnswering() bool { return !h.Reachable && h.RefreshedAt != nil }

// HostPool is a storage pool as last seen on a host.
type HostPool struct {
	Name            string `json:"name"`
	Active          bool   `json:"active"`
	Path            string `json:"path"`
	CapacityBytes   uint64 `json:"capacity_bytes"`
	AllocationBytes uint64 `json:"allocation_bytes"`
	AvailableBytes  uint64 `json:"available_bytes"`
}

// PoolList decodes the stored pools.
func (h *Host) PoolList() []HostPool {
	var out []HostPool
	_ = json.Unmarshal([]byte(h.Pools), &out) // written only by StoreInventory
	return out
}

// RefreshPending reports whether a refresh was asked for after the last one ran.
func (h *Host) RefreshPending() bool {
	return h.RefreshRequestedAt != nil && (h.RefreshedAt == nil || h.RefreshedAt.Before(*h.RefreshRequestedAt))
}

// HostInventory is what the refresh job read from libvirt.
type HostInventory struct {
	Hostname          string
	CPUs              int
	CPUModel          string
	MemoryBytes       uint64
	FreeMemoryBytes   uint64
	LibvirtVersion    string
	HypervisorVersion string
	Pools             []HostPool
}

// Hosts registers libvirt hosts and keeps their inventory.
type Hosts struct {
	db          *models.DB
	queue       models.Queue
	validateURI func(string) error
}

// NewHosts wires the service. validateURI checks that the hypervisor layer
// can speak to a URI; it is passed in because models must not import it.
func NewHosts(db *models.DB, queue models.Queue, validateURI func(string) error) *Hosts {
	return &Hosts{db: db, queue: queue, validateURI: validateURI}
}

var hostNameRE = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)

// HostInput is what an admin submits to add a host.
type HostInput struct {
	Name string
	URI  string
}

// Add registers a host and, in the same transaction, asks for its inventory.
func (h *Hosts) Add(ctx context.Context, actor models.Actor, in HostInput) (*Host, error) {
	in.Name = strings.ToLower(strings.TrimSpace(in.Name))
	in.URI = strings.TrimSpace(in.URI)
	fields := map[string]models.Msg{}
	if !hostNameRE.MatchString(in.Name) {
		fields["name"] = models.Msgf("Use 1 to 63 lowercase letters, digits and hyphens.")
	}
	if err := h.validateURI(in.URI); err != nil {
		fields["uri"] = models.Msgf("Not a libvirt URI the portal can use: %s", err.Error())
	}
	if len(fields) > 0 {
		return nil, models.InvalidMsgs(fields)
	}
	var host *Host
	err := h.db.Tx(ctx, func(tx *gorm.DB) error {
		var err error
		host, err = h.insertTx(ctx, tx, actor, in.Name, in.URI)
		return err
	})
	return host, err
}

func (h *Hosts) insertTx(ctx context.Context, tx *gorm.DB, actor models.Actor, name, uri string) (*Host, error) {
	now := time.Now().UTC()
	host := &Host{ID: kit.NewID(), Name: name, URI: uri, Role: HostRoleCompute, CreatedAt: now, UpdatedAt: now,
		RefreshRequestedAt: &now, Pools: "[]"}
	if err := tx.Create(host).Error; err != nil {
		if kit.IsUniqueViolation(err) {
			return nil, models.Invalid(map[string]string{"name": "A host with this name exists already."})
		}
		return nil, fmt.Errorf("insert host: %w", err)
	}
	if err := kit.RecordAudit(tx, actor, "host.add", "host", host.ID, map[string]any{"name": name, "uri": uri}); err != nil {
		return nil, err
	}
	if _, err := kit.Enqueue(ctx, h.queue, tx, jobargs.RefreshHost{HostID: host.ID}, refreshOpts()); err != nil {
		return nil, err
	}
	return host, nil
}

// EnsureLocal registers (or re-points) the host "local" at uri, the private
// libvirtd of `serve --libvirt auto`, and asks for its inventory.
func (h *Hosts) EnsureLocal(ctx context.Context, uri string) (*Host, error) {
	actor := models.SystemActor("serve")
	var host *Host
	err := h.db.Tx(ctx, func(tx *gorm.DB) error {
		var existing Host
		err := tx.First(&existing, "name = ?", LocalHostName).Error
		if errors.Is(err, gorm.ErrRecordNotFound) {
			host, err = h.insertTx(ctx, tx, actor, LocalHostName, uri)
			return err
		}
		if err != nil {
			return fmt.Errorf("load local host: %w", err)
		}
		host = &existing
		if existing.URI != uri {
			if err := tx.Model(&existing).Updates(map[string]any{"uri": uri, "updated_at": time.Now().UTC()}).Error; err != nil {
				return fmt.Errorf("update local host: %w", err)
			}
			if err := kit.RecordAudit(tx, actor, "host.update", "host", existing.ID, map[string]any{"uri": uri}); err != nil {
				return err
			}
		}
		return h.requestRefreshTx(ctx, tx, existing.ID)
	})
	return host, err
}

// RequestRefresh asks for a fresh inventory of a host.
func (h *Hosts) RequestRefresh(ctx context.Context, actor models.Actor, hostID string) error {
	return h.db.Tx(ctx, func(tx *gorm.DB) error {
		var n int64
		if err := tx.Model(&Host{}).Where("id = ?", hostID).Count(&n).Error; err != nil {
			return fmt.Errorf("find host: %w", err)
		}
		if n == 0 {
			return models.NotFoundError("host")
		}
		if err := kit.RecordAudit(tx, actor, "host.refresh", "host", hostID, nil); err != nil {
			return err
		}
		return h.requestRefreshTx(ctx, tx, hostID)
	})
}

func (h *Hosts) requestRefreshTx(ctx context.Context, tx *gorm.DB, hostID string) error {
	if err := tx.Model(&Host{}).Where("id = ?", hostID).Update("refresh_requested_at", time.Now().UTC()).Error; err != nil {
		return fmt.Errorf("mark refresh: %w", err)
	}
	_, err := kit.Enqueue(ctx, h.queue, tx, jobargs.RefreshHost{HostID: hostID}, refreshOpts())
	return err
}

// RequestRefreshAll asks every host for its inventory. It is routine
// upkeep by the system, so it writes no audit entry.
func (h *Hosts) RequestRefreshAll(ctx context.Context) error {
	hosts, err := h.List(ctx)
	if err != nil {
		return err
	}
	for _, host := range hosts {
		err := h.db.Tx(ctx, func(tx *gorm.DB) error {
			return h.requestRefreshTx(ctx, tx, host.ID)
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// refreshOpts keeps at most one refresh per host queued or running.
func refreshOpts() *river.InsertOpts {
	return &river.InsertOpts{MaxAttempts: 3, UniqueOpts: river.UniqueOpts{ByArgs: true, ByState: []rivertype.JobState{
		rivertype.JobStateAvailable, rivertype.JobStatePending, rivertype.JobStateRunning,
		rivertype.JobStateRetryable, rivertype.JobStateScheduled,
	}}}
}

// List returns all hosts by name.
func (h *Hosts) List(ctx context.Context) ([]Host, error) {
	var out []Host
	if err := h.db.Gorm.WithContext(ctx).Order("name").Find(&out).Error; err != nil {
		return nil, fmt.Errorf("list hosts: %w", err)
	}
	return out, nil
}

// Get loads one host.
func (h *Hosts) Get(ctx context.Context, id string) (*Host, error) {
	var host Host
	err := h.db.Gorm.WithContext(ctx).First(&host, "id = ?", id).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, models.NotFoundError("host")
	}
	if err != nil {
		return nil, fmt.Errorf("load host %s: %w", id, err)
	}
	return &host, nil
}

// StoreInventory records what the refresh job read. It is idempotent.
func (h *Hosts) StoreInventory(ctx context.Context, hostID string, inv HostInventory) error {
	pools, err := json.Marshal(inv.Pools)
	if err != nil {
		return fmt.Errorf("encode pools: %w", err)
	}
	now := time.Now().UTC()
	err = h.db.Gorm.WithContext(ctx).Model(&Host{}).Where("id = ?", hostID).Updates(map[string]any{
		"refreshed_at": now, "reachable": true, "last_error": "",
		"hostname": inv.Hostname, "cpus": inv.CPUs, "cpu_model": inv.CPUModel,
		"memory_bytes": int64(inv.MemoryBytes), "free_memory_bytes": int64(inv.FreeMemoryBytes),
		"libvirt_version": inv.LibvirtVersion, "hypervisor_version": inv.HypervisorVersion,
		"pools": string(pools),
	}).Error
	if err != nil {
		return fmt.Errorf("store inventory of %s: %w", hostID, err)
	}
	return nil
}

// StoreUnreachable records that the host could not be read.
func (h *Hosts) StoreUnreachable(ctx context.Context, hostID string, cause error) error {
	err := h.db.Gorm.WithContext(ctx).Model(&Host{}).Where("id = ?", hostID).Updates(map[string]any{
		"refreshed_at": time.Now().UTC(), "reachable": false, "last_error": cause.Error(),
	}).Error
	if err != nil {
		return fmt.Errorf("store host error of %s: %w", hostID, err)
	}
	return nil
}
