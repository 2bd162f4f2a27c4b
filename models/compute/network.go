package compute

import (
	"allmende/models"
	"allmende/models/internal/kit"
	"context"
	"fmt"
	"net/netip"
	"regexp"
	"strings"
	"time"

	"gorm.io/gorm"
)

// Network is a network on one host from which VMs there get their address:
// either a libvirt network or a host bridge.
type Network struct {
	ID             string
	HostID         string
	Name           string
	LibvirtNetwork string
	Bridge         string
	CIDR           string `gorm:"column:cidr"`
	Gateway        string
	DNS            string `gorm:"column:dns"` // comma-separated; use DNSServers
	CreatedAt      time.Time
	UpdatedAt      time.Time
}

// DNSServers lists the DNS server addresses.
func (n *Network) DNSServers() []string {
	if n.DNS == "" {
		return nil
	}
	return strings.Split(n.DNS, ",")
}

// IPAllocation is an address taken by a VM; releasing deletes the row.
type IPAllocation struct {
	NetworkID   string
	Address     string
	VMID        string `gorm:"column:vm_id"`
	AllocatedAt time.Time
}

// NetworkInput is what an admin submits for a network.
type NetworkInput struct {
	HostID         string
	Name           string
	LibvirtNetwork string
	Bridge         string
	CIDR           string // IPv4, e.g. 192.168.122.0/24
	Gateway        string // optional: isolated networks have none
	DNS            []string
}

var netNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`)

const maxDNSServers = 3

// normalize trims the input and validates it; it returns the field
// messages and the parsed prefix.
func (in *NetworkInput) validate() (map[string]models.Msg, netip.Prefix) {
	in.Name, in.LibvirtNetwork, in.Bridge = strings.TrimSpace(in.Name), strings.TrimSpace(in.LibvirtNetwork), strings.TrimSpace(in.Bridge)
	in.CIDR, in.Gateway = strings.TrimSpace(in.CIDR), strings.TrimSpace(in.Gateway)
	fields := map[string]models.Msg{}
	if !netNameRE.MatchString(in.Name) {
		fields["name"] = models.Msgf("Use 1 to 64 letters, digits, dots, underscores and hyphens.")
	}
	switch {
	case in.LibvirtNetwork == "" && in.Bridge == "":
		fields["libvirt_network"] = models.Msgf("Enter a libvirt network or a bridge.")
	case in.LibvirtNetwork != "" && in.Bridge != "":
		fields["libvirt_network"] = models.Msgf("Enter either a libvirt network or a bridge, not both.")
	case in.LibvirtNetwork != "" && !netNameRE.MatchString(in.LibvirtNetwork):
		fields["libvirt_network"] = models.Msgf("This is not a libvirt network name.")
	case in.Bridge != "" && !netNameRE.MatchString(in.Bridge):
		fields["bridge"] = models.Msgf("This is not a bridge name.")
	}
	prefix, err := netip.ParsePrefix(in.CIDR)
	switch {
	case err != nil || !prefix.Addr().Is4():
		fields["cidr"] = models.Msgf("Enter an IPv4 network in CIDR notation, e.g. 192.168.122.0/24.")
	case prefix != prefix.Masked():
		fields["cidr"] = models.Msgf("This is not a network address; did you mean %s?", prefix.Masked())
	case prefix.Bits() < 16 || prefix.Bits() > 30:
		fields["cidr"] = models.Msgf("Use a prefix length between /16 and /30.")
	}
	if in.Gateway != "" {
		gw, err := netip.ParseAddr(in.Gateway)
		if err != nil || !gw.Is4() {
			fields["gateway"] = models.Msgf("Enter an IPv4 address.")
		} else if _, bad := fields["cidr"]; !bad && !usableIn(prefix, gw) {
			fields["gateway"] = models.Msgf("The gateway must be a usable address inside the network.")
		}
	}
	var dns []string
	for _, d := range in.DNS {
		if d = strings.TrimSpace(d); d == "" {
			continue
		}
		a, err := netip.ParseAddr(d)
		if err != nil {
			fields["dns"] = models.Msgf("%q is not an IP address.", d)
			break
		}
		dns = append(dns, a.String())
	}
	if len(dns) > maxDNSServers {
		fields["dns"] = models.Msgf("Enter at most %d DNS servers.", maxDNSServers)
	}
	in.DNS = dns
	return fields, prefix
}

// usableIn reports whether a may be given to a machine in p: inside it,
// and neither its network nor its broadcast address.
func usableIn(p netip.Prefix, a netip.Addr) bool {
	return p.Contains(a) && a != p.Addr() && a != broadcast(p)
}

func broadcast(p netip.Prefix) netip.Addr {
	b := p.Addr().As4()
	hostBits := 32 - p.Bits()
	for i := 3; i >= 0 && hostBits > 0; i-- {
		n := min(hostBits, 8)
		b[i] |= byte(1<<n - 1)
		hostBits -= n
	}
	return netip.AddrFrom4(b)
}

// Networks is the admins' list of networks per host.
type Networks struct{ db *models.DB }

func NewNetworks(db *models.DB) *Networks { return &Networks{db: db} }

// Create adds a network to a host.
func (s *Networks) Create(ctx context.Context, actor models.Actor, v models.Viewer, in NetworkInput) (*Network, error) {
	if err := kit.RequireAdmin(v); err != nil {
		return nil, err
	}
	fields, _ := in.validate()
	now := kit.UTCNow()
	n := &Network{ID: kit.NewID(), HostID: in.HostID, Name: in.Name, LibvirtNetwork: in.LibvirtNetwork, Bridge: in.Bridge,
		CIDR: in.CIDR, Gateway: in.Gateway, DNS: strings.Join(in.DNS, ","), CreatedAt: now, UpdatedAt: now}
	err := s.db.Tx(ctx, func(tx *gorm.DB) error {
		var hosts int64
		if err := tx.Model(&Host{}).Where("id = ?", in.HostID).Count(&hosts).Error; err != nil {
			return fmt.Errorf("check host: %w", err)
		}
		if hosts == 0 {
			fields["host_id"] = models.Msgf("Choose a host.")
		}
		if len(fields) > 0 {
			return models.InvalidMsgs(fields)
		}
		if err := tx.Create(n).Error; err != nil {
			if kit.IsUniqueViolation(err) {
				return models.Invalid(map[string]string{"name": "This host has a network of this name already."})
			}
			return fmt.Errorf("insert network: %w", err)
		}
		return kit.RecordAudit(tx, actor, "network.create", "network", n.ID, networkDetail(n))
	})
	if err != nil {
		return nil, err
	}
	return n, nil
}

func networkDetail(n *Network) map[string]any {
	return map[string]any{"host_id": n.HostID, "name": n.Name, "libvirt_network": n.LibvirtNetwork, "bridge": n.Bridge,
		"cidr": n.CIDR, "gateway": n.Gateway, "dns": n.DNS}
}

// Update changes a network. Its host never changes; its address range only
// while no VM holds an address in it.
func (s *Networks) Update(ctx context.Context, actor models.Actor, v models.Viewer, id string, in NetworkInput) (*Network, error) {
	if err := kit.RequireAdmin(v); err != nil {
		return nil, err
	}
	var n Network
	err := s.db.Tx(ctx, func(tx *gorm.DB) error {
		if err := kit.First(kit.ForUpdate(tx), &n, id, "network"); err != nil {
			return err
		}
		in.HostID = n.HostID
		fields, _ := in.validate()
		if len(fields) > 0 {
			return models.InvalidMsgs(fields)
		}
		if in.CIDR != n.CIDR || in.Gateway != n.Gateway {
			taken, err := allocationCount(tx, id)
			if err != nil {
				return err
			}
			if taken > 0 {
				return models.Conflictf("%d virtual machines hold addresses in this network, so its range and gateway cannot change.", taken)
			}
		}
		n.Name, n.LibvirtNetwork, n.Bridge, n.CIDR, n.Gateway = in.Name, in.LibvirtNetwork, in.Bridge, in.CIDR, in.Gateway
		n.DNS, n.UpdatedAt = strings.Join(in.DNS, ","), kit.UTCNow()
		if err := tx.Save(&n).Error; err != nil {
			if kit.IsUniqueViolation(err) {
				return models.Invalid(map[string]string{"name": "This host has a network of this name already."})
			}
			return fmt.Errorf("update network %s: %w", id, err)
		}
		return kit.RecordAudit(tx, actor, "network.update", "network", id, networkDetail(&n))
	})
	if err != nil {
		return nil, err
	}
	return &n, nil
}

// Delete removes a network in which no VM holds an address.
func (s *Networks) Delete(ctx context.Context, actor models.Actor, v models.Viewer, id string) error {
	if err := kit.RequireAdmin(v); err != nil {
		return err
	}
	return s.db.Tx(ctx, func(tx *gorm.DB) error {
		var n Network
		if err := kit.First(kit.ForUpdate(tx), &n, id, "network"); err != nil {
			return err
		}
		taken, err := allocationCount(tx, id)
		if err != nil {
			return err
		}
		if taken > 0 {
			return models.Conflictf("%d virtual machines hold addresses in this network; delete them first.", taken)
		}
		if err := tx.Delete(&Network{}, "id = ?", id).Error; err != nil {
			return fmt.Errorf("delete network %s: %w", id, err)
		}
		return kit.RecordAudit(tx, actor, "network.delete", "network", id, networkDetail(&n))
	})
}

func allocationCount(tx *gorm.DB, networkID string) (int64, error) {
	var n int64
	if err := tx.Model(&IPAllocation{}).Where("network_id = ?", networkID).Count(&n).Error; err != nil {
		return 0, fmt.Errorf("count addresses of network %s: %w", networkID, err)
	}
	return n, nil
}

// List returns the networks of a host (all hosts if hostID is empty).
func (s *Networks) List(ctx context.Context, v models.Viewer, hostID string) ([]Network, error) {
	if err := kit.RequireAdmin(v); err != nil {
		return nil, err
	}
	q := s.db.Gorm.WithContext(ctx)
	if hostID != "" {
		q = q.Where("host_id = ?", hostID)
	}
	var out []Network
	if err := q.Order("host_id, name").Find(&out).Error; err != nil {
		return nil, fmt.Errorf("list networks: %w", err)
	}
	return out, nil
}

// Get loads one network.
func (s *Networks) Get(ctx context.Context, v models.Viewer, id string) (*Network, error) {
	if err := kit.RequireAdmin(v); err != nil {
		return nil, err
	}
	var n Network
	if err := kit.First(s.db.Gorm.WithContext(ctx), &n, id, "network"); err != nil {
		return nil, err
	}
	return &n, nil
}

// pickAddressTx chooses the first free address of the first network of
// hostID that has one; the caller inserts it once the VM row exists. A host
// without networks gives none (ok true, alloc nil); a host whose networks
// are all full gives ok false.
//
// The host's network rows are locked first, so concurrent creates wait for
// each other instead of picking the same address.
func pickAddressTx(tx *gorm.DB, hostID string) (alloc *IPAllocation, ok bool, err error) {
	var nets []Network
	if err := kit.ForUpdate(tx).Where("host_id = ?", hostID).Order("name, id").Find(&nets).Error; err != nil {
		return nil, false, fmt.Errorf("lock networks of host %s: %w", hostID, err)
	}
	if len(nets) == 0 {
		return nil, true, nil
	}
	for _, n := range nets {
		addr, err := freeAddress(tx, &n)
		if err != nil {
			return nil, false, err
		}
		if addr != "" {
			return &IPAllocation{NetworkID: n.ID, Address: addr, AllocatedAt: kit.UTCNow()}, true, nil
		}
	}
	return nil, false, nil
}

// freeAddress returns the lowest usable address of n that no VM holds and
// that is not the gateway; "" when the network is full.
func freeAddress(tx *gorm.DB, n *Network) (string, error) {
	prefix, err := netip.ParsePrefix(n.CIDR)
	if err != nil {
		return "", fmt.Errorf("stored network %s has bad CIDR %q: %w", n.ID, n.CIDR, err)
	}
	var taken []string
	if err := tx.Model(&IPAllocation{}).Where("network_id = ?", n.ID).Pluck("address", &taken).Error; err != nil {
		return "", fmt.Errorf("load addresses of network %s: %w", n.ID, err)
	}
	used := make(map[string]bool, len(taken)+1)
	for _, a := range taken {
		used[a] = true
	}
	used[n.Gateway] = true
	for a := prefix.Addr().Next(); usableIn(prefix, a); a = a.Next() {
		if !used[a.String()] {
			return a.String(), nil
		}
	}
	return "", nil
}
