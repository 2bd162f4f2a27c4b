package compute

import (
	"allmende/models"
	"allmende/models/internal/kit"
	"context"
	"crypto/rsa"
	"errors"
	"fmt"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"
	"gorm.io/gorm"
)

// SSHKey is a public key a member keeps to put into new VMs.
type SSHKey struct {
	ID          string
	UserID      string
	Name        string
	PublicKey   string // one authorized_keys line: type, base64, comment
	Fingerprint string // SHA256:...
	CreatedAt   time.Time
}

func (SSHKey) TableName() string { return "ssh_keys" }

// SSHKeyInput is what a member submits.
type SSHKeyInput struct {
	Name      string
	PublicKey string
}

const minRSABits = 2048

// rsaTooShort is parsePublicKey's one message with a part filled in, kept
// for translation by models.InvalidWith while the field still says it.
func rsaTooShort() models.Msg {
	return models.Msgf("RSA keys need at least %d bits; an ed25519 key is better still.", minRSABits)
}

// parsePublicKey accepts one ed25519, ECDSA or RSA (at least 2048 bits)
// key in authorized_keys form and returns it normalised with its
// fingerprint, or a message for the form.
func parsePublicKey(text string) (line, fingerprint, msg string) {
	text = strings.TrimSpace(text)
	if text == "" {
		return "", "", "Paste your public key, e.g. the contents of ~/.ssh/id_ed25519.pub."
	}
	pk, comment, options, rest, err := ssh.ParseAuthorizedKey([]byte(text))
	if err != nil {
		return "", "", "This is not an SSH public key; paste the line from your .pub file."
	}
	if len(options) > 0 {
		return "", "", "Paste the key without authorized_keys options."
	}
	if len(strings.TrimSpace(string(rest))) > 0 {
		return "", "", "Paste one key at a time."
	}
	switch pk.Type() {
	case ssh.KeyAlgoED25519, ssh.KeyAlgoECDSA256, ssh.KeyAlgoECDSA384, ssh.KeyAlgoECDSA521:
	case ssh.KeyAlgoRSA:
		cpk, ok := pk.(ssh.CryptoPublicKey)
		if !ok {
			return "", "", "This RSA key cannot be read."
		}
		rk, ok := cpk.CryptoPublicKey().(*rsa.PublicKey)
		if !ok || rk.N.BitLen() < minRSABits {
			return "", "", rsaTooShort().String()
		}
	default:
		return "", "", "Use an ed25519, ECDSA or RSA key."
	}
	line = strings.TrimSpace(string(ssh.MarshalAuthorizedKey(pk)))
	// The comment ends up in the VM's authorized_keys; keep it on one line.
	if comment = strings.Join(strings.Fields(comment), " "); comment != "" {
		line += " " + comment
	}
	return line, ssh.FingerprintSHA256(pk), ""
}

// SSHKeys is each member's own key list; nobody else, admins included,
// sees or changes it.
type SSHKeys struct{ db *models.DB }

func NewSSHKeys(db *models.DB) *SSHKeys { return &SSHKeys{db: db} }

// Add stores a key of the viewer.
func (s *SSHKeys) Add(ctx context.Context, actor models.Actor, v models.Viewer, in SSHKeyInput) (*SSHKey, error) {
	if v.UserID == "" {
		return nil, models.Forbidden("Sign in to keep SSH keys.")
	}
	in.Name = strings.TrimSpace(in.Name)
	fields := map[string]string{}
	kit.TextField(fields, "name", in.Name, "Give the key a name, e.g. the computer it belongs to.", 100)
	line, fp, msg := parsePublicKey(in.PublicKey)
	if msg != "" {
		fields["public_key"] = msg
	}
	if len(fields) > 0 {
		return nil, models.InvalidWith(fields, map[string]models.Msg{"public_key": rsaTooShort()})
	}
	k := &SSHKey{ID: kit.NewID(), UserID: v.UserID, Name: in.Name, PublicKey: line, Fingerprint: fp, CreatedAt: kit.UTCNow()}
	err := s.db.Tx(ctx, func(tx *gorm.DB) error {
		if err := tx.Create(k).Error; err != nil {
			if kit.IsUniqueViolation(err) {
				return models.Invalid(map[string]string{"public_key": "You have added this key already."})
			}
			return fmt.Errorf("insert ssh key: %w", err)
		}
		return kit.RecordAudit(tx, actor, "sshkey.add", "ssh_key", k.ID, map[string]any{"name": k.Name, "fingerprint": fp})
	})
	if err != nil {
		return nil, err
	}
	return k, nil
}

// List returns the viewer's keys, oldest first.
func (s *SSHKeys) List(ctx context.Context, v models.Viewer) ([]SSHKey, error) {
	var out []SSHKey
	if err := s.db.Gorm.WithContext(ctx).Where("user_id = ?", v.UserID).Order("id").Find(&out).Error; err != nil {
		return nil, fmt.Errorf("list ssh keys: %w", err)
	}
	return out, nil
}

// Get loads one of the viewer's keys.
func (s *SSHKeys) Get(ctx context.Context, v models.Viewer, id string) (*SSHKey, error) {
	return ownKey(s.db.Gorm.WithContext(ctx), v, id)
}

func ownKey(tx *gorm.DB, v models.Viewer, id string) (*SSHKey, error) {
	var k SSHKey
	err := tx.Where("id = ? AND user_id = ?", id, v.UserID).First(&k).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, models.NotFoundError("SSH key")
	}
	if err != nil {
		return nil, fmt.Errorf("load ssh key %s: %w", id, err)
	}
	return &k, nil
}

// Rename changes the name of one of the viewer's keys.
func (s *SSHKeys) Rename(ctx context.Context, actor models.Actor, v models.Viewer, id, name string) error {
	name = strings.TrimSpace(name)
	fields := map[string]string{}
	kit.TextField(fields, "name", name, "Give the key a name.", 100)
	if len(fields) > 0 {
		return models.Invalid(fields)
	}
	return s.db.Tx(ctx, func(tx *gorm.DB) error {
		if _, err := ownKey(tx, v, id); err != nil {
			return err
		}
		if err := tx.Model(&SSHKey{}).Where("id = ?", id).Update("name", name).Error; err != nil {
			return fmt.Errorf("rename ssh key %s: %w", id, err)
		}
		return kit.RecordAudit(tx, actor, "sshkey.rename", "ssh_key", id, map[string]any{"name": name})
	})
}

// Delete removes one of the viewer's keys. VMs made with it keep it: the
// key was copied into them at creation.
func (s *SSHKeys) Delete(ctx context.Context, actor models.Actor, v models.Viewer, id string) error {
	return s.db.Tx(ctx, func(tx *gorm.DB) error {
		k, err := ownKey(tx, v, id)
		if err != nil {
			return err
		}
		if err := tx.Delete(&SSHKey{}, "id = ?", id).Error; err != nil {
			return fmt.Errorf("delete ssh key %s: %w", id, err)
		}
		return kit.RecordAudit(tx, actor, "sshkey.delete", "ssh_key", id, map[string]any{"name": k.Name, "fingerprint": k.Fingerprint})
	})
}
