package compute_test

import (
	"context"
	"net/http"
	"testing"

	"allmende/models"
	"allmende/models/compute"
	"allmende/models/modelstest"
)

func TestNetworksCRUD(t *testing.T) {
	modelstest.EachDB(t, func(t *testing.T, db *models.DB) {
		ctx := context.Background()
		e := newVMEnv(t, db)
		_, memberV := e.member(t, "m@example.org")

		for _, c := range []struct {
			in    compute.NetworkInput
			field string
		}{
			{compute.NetworkInput{HostID: e.host.ID, Name: "n", LibvirtNetwork: "a", Bridge: "br0", CIDR: "10.1.0.0/24"}, "libvirt_network"},
			{compute.NetworkInput{HostID: e.host.ID, Name: "n", Bridge: "br0", CIDR: "10.1.0.5/24"}, "cidr"},
			{compute.NetworkInput{HostID: e.host.ID, Name: "n", Bridge: "br0", CIDR: "fd00::/64"}, "cidr"},
			{compute.NetworkInput{HostID: e.host.ID, Name: "n", Bridge: "br0", CIDR: "10.1.0.0/24", Gateway: "10.2.0.1"}, "gateway"},
			{compute.NetworkInput{HostID: e.host.ID, Name: "n", Bridge: "br0", CIDR: "10.1.0.0/24", Gateway: "10.1.0.255"}, "gateway"},
			{compute.NetworkInput{HostID: e.host.ID, Name: "n", Bridge: "br0", CIDR: "10.1.0.0/24", DNS: []string{"dns.example"}}, "dns"},
			{compute.NetworkInput{HostID: e.host.ID, Name: "bad name", Bridge: "br0", CIDR: "10.1.0.0/24"}, "name"},
			{compute.NetworkInput{HostID: "nope", Name: "n", Bridge: "br0", CIDR: "10.1.0.0/24"}, "host_id"},
			{compute.NetworkInput{HostID: e.host.ID, Name: "default", Bridge: "br0", CIDR: "10.1.0.0/24"}, "name"},
		} {
			_, err := e.networks.Create(ctx, e.admin, e.adminV, c.in)
			modelstest.FieldErr(t, err, c.field)
		}
		_, err := e.networks.Create(ctx, e.admin, memberV, compute.NetworkInput{})
		modelstest.WantCode(t, err, http.StatusForbidden)

		br, err := e.networks.Create(ctx, e.admin, e.adminV, compute.NetworkInput{HostID: e.host.ID, Name: "public", Bridge: "br0",
			CIDR: "192.0.2.0/29", Gateway: "192.0.2.1", DNS: []string{" 9.9.9.9 ", "2620:fe::fe"}})
		if err != nil {
			t.Fatal(err)
		}
		if got := br.DNSServers(); len(got) != 2 || got[0] != "9.9.9.9" {
			t.Errorf("dns = %v", got)
		}
		br, err = e.networks.Update(ctx, e.admin, e.adminV, br.ID, compute.NetworkInput{Name: "public", Bridge: "br1",
			CIDR: "192.0.2.0/28", Gateway: "192.0.2.1"})
		if err != nil || br.Bridge != "br1" || br.CIDR != "192.0.2.0/28" {
			t.Fatalf("updated = %+v, %v", br, err)
		}
		list, err := e.networks.List(ctx, e.adminV, e.host.ID)
		if err != nil || len(list) != 2 {
			t.Fatalf("networks = %v, %v", list, err)
		}

		// A network holding an address keeps its range and stays.
		who, v := e.member(t, "owner@example.org")
		e.create(t, who, v, "web") // takes 10.0.0.2 in "default"
		_, err = e.networks.Update(ctx, e.admin, e.adminV, e.network.ID, compute.NetworkInput{Name: "default", LibvirtNetwork: "default",
			CIDR: "10.9.0.0/24", Gateway: "10.9.0.1"})
		modelstest.WantCode(t, err, http.StatusConflict)
		modelstest.WantCode(t, e.networks.Delete(ctx, e.admin, e.adminV, e.network.ID), http.StatusConflict)
		if err := e.networks.Delete(ctx, e.admin, e.adminV, br.ID); err != nil {
			t.Fatal(err)
		}
	})
}
