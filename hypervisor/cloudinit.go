package hypervisor

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"regexp"
	"strings"

	"github.com/kdomanski/iso9660"
)

// Seed is what a guest's cloud-init needs on first boot: identity, access
// and network. It becomes a NoCloud seed ISO (see BuildSeedISO) attached to
// the guest as a CD-ROM.
type Seed struct {
	// InstanceID identifies this instance of the guest; cloud-init runs its
	// once-per-instance steps again when it changes.
	InstanceID string
	Hostname   string
	SSHKeys    []string // public keys, one per entry, for the default user
	// UserData is passed to cloud-init unchanged (#cloud-config, a script,
	// ...). If empty, a #cloud-config that installs SSHKeys is generated.
	UserData string
	// Network configures the guest's NIC statically; nil leaves the guest
	// to cloud-init's default (DHCP on the first NIC).
	Network *SeedNetwork
}

// SeedNetwork is the static network setup of the NIC with the given MAC.
type SeedNetwork struct {
	MAC     string   // e.g. "52:54:00:12:34:56"
	Address string   // CIDR, e.g. "10.0.0.5/24"; empty = DHCP
	Gateway string   // e.g. "10.0.0.1"; optional
	DNS     []string // name server addresses
}

// seedLabel is the volume label cloud-init's NoCloud source looks for.
const seedLabel = "cidata"

// seedNIC is the name the guest's interface gets; cloud-init renames the
// NIC matched by MAC to it, so every renderer (netplan, networkd, ENI)
// agrees on it.
const seedNIC = "eth0"

// BuildSeedISO makes a NoCloud seed: an ISO 9660 image labelled "cidata"
// with the files meta-data, user-data and (if s.Network is set)
// network-config, the latter in network config version 2.
func BuildSeedISO(s Seed) ([]byte, error) {
	files, err := seedFiles(s)
	if err != nil {
		return nil, fmt.Errorf("cloud-init seed: %w", err)
	}
	iso, err := writeISO(seedLabel, files)
	if err != nil {
		return nil, fmt.Errorf("cloud-init seed ISO: %w", err)
	}
	return iso, nil
}

// UploadSeed stores a seed ISO as a raw volume, replacing one of the same
// name (see UploadVolume).
func (m *Manager) UploadSeed(ctx context.Context, uri, pool, name string, iso []byte) error {
	return m.UploadVolume(ctx, uri, pool, name, "raw", uint64(len(iso)), bytes.NewReader(iso))
}

// seedFile is one file of the seed, in the order written.
type seedFile struct {
	name string
	data string
}

func seedFiles(s Seed) ([]seedFile, error) {
	if err := s.validate(); err != nil {
		return nil, err
	}
	keys := make(yamlList, len(s.SSHKeys))
	for i, k := range s.SSHKeys {
		keys[i] = strings.TrimSpace(k)
	}

	meta := yamlMap{
		{"instance-id", s.InstanceID},
		{"local-hostname", s.Hostname},
	}
	if len(keys) > 0 {
		// Here too, so that the keys reach the guest even when the
		// caller's own user data does not install them.
		meta = append(meta, yamlField{"public-keys", keys})
	}
	metaData, err := marshalYAML(meta)
	if err != nil {
		return nil, err
	}

	userData := s.UserData
	if userData == "" {
		cfg := yamlMap{}
		if len(keys) > 0 {
			cfg = append(cfg, yamlField{"ssh_authorized_keys", keys})
		}
		body, err := marshalYAML(cfg)
		if err != nil {
			return nil, err
		}
		userData = "#cloud-config\n" + body
	}

	files := []seedFile{{"meta-data", metaData}, {"user-data", userData}}
	if s.Network != nil {
		netCfg, err := networkConfig(*s.Network)
		if err != nil {
			return nil, err
		}
		files = append(files, seedFile{"network-config", netCfg})
	}
	return files, nil
}

// networkConfig writes cloud-init network config version 2 (netplan's
// format). The default route is written as to 0.0.0.0/0 (or ::/0) rather
// than "default" or gateway4, which older cloud-init and netplan releases
// read differently.
func networkConfig(n SeedNetwork) (string, error) {
	mac, _ := net.ParseMAC(n.MAC) // validated before
	nic := yamlMap{
		{"match", yamlMap{{"macaddress", mac.String()}}},
		{"set-name", seedNIC},
	}
	if n.Address == "" {
		nic = append(nic, yamlField{"dhcp4", true})
	} else {
		prefix := netip.MustParsePrefix(n.Address)
		nic = append(nic, yamlField{"addresses", yamlList{prefix.String()}})
		if n.Gateway != "" {
			to := "0.0.0.0/0"
			if prefix.Addr().Is6() {
				to = "::/0"
			}
			nic = append(nic, yamlField{"routes", yamlList{yamlMap{{"to", to}, {"via", n.Gateway}}}})
		}
	}
	if len(n.DNS) > 0 {
		dns := make(yamlList, len(n.DNS))
		for i, a := range n.DNS {
			dns[i] = a
		}
		nic = append(nic, yamlField{"nameservers", yamlMap{{"addresses", dns}}})
	}
	return marshalYAML(yamlMap{
		{"version", 2},
		{"ethernets", yamlMap{{seedNIC, nic}}},
	})
}

// hostnameRE is an RFC 1123 host name: dot-separated labels of letters,
// digits and inner hyphens.
var hostnameRE = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$`)

func (s Seed) validate() error {
	if strings.TrimSpace(s.InstanceID) == "" {
		return errors.New("empty instance ID")
	}
	if len(s.Hostname) > 253 || !hostnameRE.MatchString(s.Hostname) {
		return fmt.Errorf("invalid host name %q", s.Hostname)
	}
	for i, k := range s.SSHKeys {
		// One key is one line of authorized_keys: a line break would
		// smuggle in another line (with options, or another key).
		if strings.TrimSpace(k) == "" || strings.ContainsAny(k, "\r\n\x00") {
			return fmt.Errorf("SSH key %d is empty or spans lines", i+1)
		}
	}
	if s.Network != nil {
		return s.Network.validate()
	}
	return nil
}

func (n SeedNetwork) validate() error {
	mac, err := net.ParseMAC(n.MAC)
	if err != nil || len(mac) != 6 {
		return fmt.Errorf("invalid MAC address %q", n.MAC)
	}
	var prefix netip.Prefix
	if n.Address != "" {
		if prefix, err = netip.ParsePrefix(n.Address); err != nil {
			return fmt.Errorf("invalid address %q (want CIDR, e.g. 10.0.0.5/24): %w", n.Address, err)
		}
	}
	if n.Gateway != "" {
		gw, err := netip.ParseAddr(n.Gateway)
		if err != nil {
			return fmt.Errorf("invalid gateway %q: %w", n.Gateway, err)
		}
		if n.Address == "" {
			return errors.New("a gateway needs a static address")
		}
		if gw.Is4() != prefix.Addr().Is4() {
			return fmt.Errorf("gateway %s and address %s are of different IP versions", n.Gateway, n.Address)
		}
	}
	for _, d := range n.DNS {
		if _, err := netip.ParseAddr(d); err != nil {
			return fmt.Errorf("invalid DNS server %q: %w", d, err)
		}
	}
	return nil
}

// writeISO writes files into the root of an ISO 9660 image. The library
// stores lower-case names ("meta-data;1"), which Linux shows as
// "meta-data", as cloud-init expects.
func writeISO(label string, files []seedFile) ([]byte, error) {
	w, err := iso9660.NewWriter() // stages the files in a temporary dir
	if err != nil {
		return nil, err
	}
	defer w.Cleanup()
	for _, f := range files {
		if err := w.AddFile(strings.NewReader(f.data), f.name); err != nil {
			return nil, fmt.Errorf("add %s: %w", f.name, err)
		}
	}
	var buf bytes.Buffer
	if err := w.WriteTo(&buf, label); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
