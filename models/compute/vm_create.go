package compute

import (
	"allmende/models"
	"allmende/models/account"
	"allmende/models/internal/kit"
	"context"
	"crypto/rand"
	"fmt"
	"strings"
	"unicode/utf8"

	"gorm.io/gorm"
)

// VMInput is what a member submits to create a VM.
type VMInput struct {
	Name      string
	PlanID    string
	ImageID   string
	SSHKeyIDs []string
	UserData  string // cloud-init user-data, optional
}

const (
	maxUserData  = 16 << 10
	maxVMSSHKeys = 20
)

// vmInputMsgs are validate's messages that have a limit filled in, for
// translation (models.InvalidWith keeps those a field still says).
func vmInputMsgs() map[string]models.Msg {
	return map[string]models.Msg{
		"user_data":   models.Msgf("User data may be at most %d KiB.", maxUserData>>10),
		"ssh_key_ids": models.Msgf("Choose at most %d keys.", maxVMSSHKeys),
	}
}

func (in *VMInput) validate() map[string]string {
	in.Name = strings.TrimSpace(in.Name)
	fields := map[string]string{}
	if m := validateVMName(in.Name); m != "" {
		fields["name"] = m
	}
	if in.PlanID == "" {
		fields["plan_id"] = "Choose a plan."
	}
	if in.ImageID == "" {
		fields["image_id"] = "Choose an image."
	}
	switch {
	case len(in.UserData) > maxUserData:
		fields["user_data"] = vmInputMsgs()["user_data"].String()
	case !utf8.ValidString(in.UserData):
		fields["user_data"] = "User data must be text (UTF-8)."
	case kit.HasControl(in.UserData, true):
		fields["user_data"] = kit.ControlCharsMessage
	}
	var ids []string
	for _, id := range in.SSHKeyIDs {
		if id = strings.TrimSpace(id); id != "" && !containsString(ids, id) {
			ids = append(ids, id)
		}
	}
	if len(ids) > maxVMSSHKeys {
		fields["ssh_key_ids"] = vmInputMsgs()["ssh_key_ids"].String()
	}
	in.SSHKeyIDs = ids
	return fields
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// Create records a new VM of the viewer, places it on a host, gives it an
// address and a MAC, and enqueues its creation, in one transaction. Only
// members may create VMs, within what their paid shares entitle them to.
func (s *VMs) Create(ctx context.Context, actor models.Actor, v models.Viewer, in VMInput) (*VM, *Task, error) {
	fields := in.validate()
	if v.UserID == "" {
		return nil, nil, models.Forbidden("Sign in to create a virtual machine.")
	}
	member, err := account.UserHasRole(s.db.Gorm.WithContext(ctx), v.UserID, account.RoleMember)
	if err != nil {
		return nil, nil, err
	}
	if !member {
		return nil, nil, models.Forbidden("Only members of the cooperative can create virtual machines.")
	}
	if len(fields) > 0 {
		return nil, nil, models.InvalidWith(fields, vmInputMsgs())
	}
	// Read outside the transaction: the membership domain reads through its
	// own handle, and SQLite's single connection belongs to the transaction.
	ent, err := s.entitlements.Entitlement(ctx, v.UserID)
	if err != nil {
		return nil, nil, err
	}
	var vm *VM
	var task *Task
	err = s.db.Tx(ctx, func(tx *gorm.DB) error {
		// The owner's row serialises their creates, so two at once cannot
		// both fit into the quota that only one of them fits.
		var u account.User
		if err := kit.ForUpdate(tx).Select("id").First(&u, "id = ?", v.UserID).Error; err != nil {
			return fmt.Errorf("lock account %s: %w", v.UserID, err)
		}
		if err := checkNoHoldTx(tx, v.UserID); err != nil {
			return err
		}
		plan, img, keys, err := s.checkCreateTx(tx, v, in)
		if err != nil {
			return err
		}
		if err := checkQuota(tx, v.UserID, "", plan.Size(), ent); err != nil {
			return err
		}
		vm = &VM{ID: kit.NewID(), OwnerID: v.UserID, Name: in.Name, State: VMProvisioning, PlanID: plan.ID,
			SSHAuthorizedKeys: authorizedKeysText(keys), UserData: in.UserData,
			ShutdownTimeoutSeconds: int(DefaultShutdownTimeout.Seconds())}
		vm.CreatedAt = kit.UTCNow()
		vm.UpdatedAt = vm.CreatedAt
		alloc, err := s.placeVMTx(tx, vm, img, plan)
		if err != nil {
			return err
		}
		if vm.MAC, err = newMAC(tx); err != nil {
			return err
		}
		if err := tx.Create(vm).Error; err != nil {
			if kit.IsUniqueViolation(err) {
				return models.Invalid(map[string]string{"name": "You have a virtual machine of this name already."})
			}
			return fmt.Errorf("insert vm: %w", err)
		}
		if s.guard != nil {
			if err := s.guard.Placed(tx, vm, plan.Size()); err != nil {
				return err
			}
		}
		detail := map[string]any{"name": vm.Name, "plan": plan.Name, "image": img.Name, "host_id": vm.HostID, "mac": vm.MAC}
		if alloc != nil {
			alloc.VMID = vm.ID
			if err := tx.Create(alloc).Error; err != nil {
				return fmt.Errorf("allocate address %s: %w", alloc.Address, err)
			}
			if err := recordAssignmentTx(tx, alloc, vm.OwnerID, s.clock.Now()); err != nil {
				return err
			}
			detail["ip"] = alloc.Address
		}
		if task, err = startTaskTx(ctx, tx, s.queue, actor, vm, ActionCreate, nil); err != nil {
			return err
		}
		detail["task_id"] = task.ID
		return kit.RecordAudit(tx, actor, "vm.create", "vm", vm.ID, detail)
	})
	if err != nil {
		return nil, nil, err
	}
	return vm, task, nil
}

// checkCreateTx loads what the input names and checks it belongs to what
// the viewer may use; bad choices become field messages.
func (s *VMs) checkCreateTx(tx *gorm.DB, v models.Viewer, in VMInput) (*Plan, *Image, []SSHKey, error) {
	fields := map[string]string{}
	var plan Plan
	if err := tx.Where("id = ? AND retired_at IS NULL", in.PlanID).Limit(1).Find(&plan).Error; err != nil {
		return nil, nil, nil, fmt.Errorf("load plan %s: %w", in.PlanID, err)
	}
	if plan.ID == "" {
		fields["plan_id"] = "Choose one of the plans on offer."
	}
	var img Image
	if err := tx.Where("id = ? AND status = ? AND kind = ? AND retired_at IS NULL", in.ImageID, ImageReady, ImageDisk).Limit(1).Find(&img).Error; err != nil {
		return nil, nil, nil, fmt.Errorf("load image %s: %w", in.ImageID, err)
	}
	if img.ID == "" {
		fields["image_id"] = "Choose one of the images that are ready."
	}
	var keys []SSHKey
	if len(in.SSHKeyIDs) > 0 {
		if err := tx.Where("user_id = ? AND id IN ?", v.UserID, in.SSHKeyIDs).Order("id").Find(&keys).Error; err != nil {
			return nil, nil, nil, fmt.Errorf("load ssh keys: %w", err)
		}
		if len(keys) != len(in.SSHKeyIDs) {
			fields["ssh_key_ids"] = "Choose among your own SSH keys."
		}
	}
	var same int64
	if err := tx.Model(&VM{}).Where("owner_id = ? AND LOWER(name) = LOWER(?) AND state <> ?", v.UserID, in.Name, VMDeleted).
		Count(&same).Error; err != nil {
		return nil, nil, nil, fmt.Errorf("check vm name: %w", err)
	}
	if same > 0 {
		fields["name"] = "You have a virtual machine of this name already."
	}
	if len(fields) > 0 {
		return nil, nil, nil, models.Invalid(fields)
	}
	return &plan, &img, keys, nil
}

// placeVMTx sets the VM's host and image copy to the best host that has
// room and, if the host has networks, a free address, which it returns.
func (s *VMs) placeVMTx(tx *gorm.DB, vm *VM, img *Image, plan *Plan) (*IPAllocation, error) {
	cands, err := placeTx(tx, img, plan.Size())
	if err != nil {
		return nil, err
	}
	refused := ""
	for _, c := range cands {
		if s.guard != nil {
			why, err := s.guard.Admit(tx, c.host.ID, c.image.Pool, plan.Size())
			if err != nil {
				return nil, err
			}
			if why != "" {
				refused = why
				continue
			}
		}
		alloc, ok, err := pickAddressTx(tx, c.host.ID)
		if err != nil {
			return nil, err
		}
		if ok {
			vm.HostID, vm.ImageID = c.host.ID, c.image.ID
			return alloc, nil
		}
	}
	if refused != "" {
		return nil, noHost(models.Msg{Format: refused}) // the guard's own words, English
	}
	return nil, noHost(models.Msgf("The hosts with room for this plan have no free network address left; please ask the administrators."))
}

// newMAC returns an unused locally administered address in QEMU's range
// 52:54:00. Collisions are rare (24 random bits); the unique index on
// vms.mac is the last word.
func newMAC(tx *gorm.DB) (string, error) {
	for range 10 {
		var b [3]byte
		if _, err := rand.Read(b[:]); err != nil {
			return "", fmt.Errorf("random mac: %w", err)
		}
		mac := fmt.Sprintf("52:54:00:%02x:%02x:%02x", b[0], b[1], b[2])
		var n int64
		if err := tx.Model(&VM{}).Where("mac = ?", mac).Count(&n).Error; err != nil {
			return "", fmt.Errorf("check mac: %w", err)
		}
		if n == 0 {
			return mac, nil
		}
	}
	return "", fmt.Errorf("no free mac after 10 tries")
}
