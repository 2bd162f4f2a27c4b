package models_test

import (
	"context"
	"net/http"
	"testing"

	"allmende/models"
)

func TestNetworksCRUD(t *testing.T) {
	eachDB(t, func(t *testing.T, db *models.DB) {
		ctx := context.Background()
		e := newVMEnv(t, db)
		_, memberV := e.member(t, "m@example.org")

		for _, c := range []struct {
			in    models.NetworkInput
			field string
		}{
			{models.NetworkInput{HostID: e.host.ID, Name: "n", LibvirtNetwork: "a", Bridge: "br0", CIDR: "10.1.0.0/24"}, "libvirt_network"},
			{models.NetworkInput{HostID: e.host.ID, Name: "n", Bridge: "br0", CIDR: "10.1.0.5/24"}, "cidr"},
			{models.NetworkInput{HostID: e.host.ID, Name: "n", Bridge: "br0", CIDR: "fd00::/64"}, "cidr"},
			{models.NetworkInput{HostID: e.host.ID, Name: "n", Bridge: "br0", CIDR: "10.1.0.0/24", Gateway: "10.2.0.1"}, "gateway"},
			{models.NetworkInput{HostID: e.host.ID, Name: "n", Bridge: "br0", CIDR: "10.1.0.0/24", Gateway: "10.1.0.255"}, "gateway"},
			{models.NetworkInput{HostID: e.host.ID, Name: "n", Bridge: "br0", CIDR: "10.1.0.0/24", DNS: []string{"dns.example"}}, "dns"},
			{models.NetworkInput{HostID: e.host.ID, Name: "bad name", Bridge: "br0", CIDR: "10.1.0.0/24"}, "name"},
			{models.NetworkInput{HostID: "nope", Name: "n", Bridge: "br0", CIDR: "10.1.0.0/24"}, "host_id"},
			{models.NetworkInput{HostID: e.host.ID, Name: "default", Bridge: "br0", CIDR: "10.1.0.0/24"}, "name"},
		} {
			_, err := e.networks.Create(ctx, e.admin, e.adminV, c.in)
			fieldErr(t, err, c.field)
		}
		_, err := e.networks.Create(ctx, e.admin, memberV, models.NetworkInput{})
		wantCode(t, err, http.StatusForbidden)

		br, err := e.networks.Create(ctx, e.admin, e.adminV, models.NetworkInput{HostID: e.host.ID, Name: "public", Bridge: "br0",
			CIDR: "192.0.2.0/29", Gateway: "192.0.2.1", DNS: []string{" 9.9.9.9 ", "2620:fe::fe"}})
		if err != nil {
			t.Fatal(err)
		}
		if got := br.DNSServers(); len(got) != 2 || got[0] != "9.9.9.9" {
			t.Errorf("dns = %v", got)
		}
		br, err = e.networks.Update(ctx, e.admin, e.adminV, br.ID, models.NetworkInput{Name: "public", Bridge: "br1",
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
		_, err = e.networks.Update(ctx, e.admin, e.adminV, e.network.ID, models.NetworkInput{Name: "default", LibvirtNetwork: "default",
			CIDR: "10.9.0.0/24", Gateway: "10.9.0.1"})
		wantCode(t, err, http.StatusConflict)
		wantCode(t, e.networks.Delete(ctx, e.admin, e.adminV, e.network.ID), http.StatusConflict)
		if err := e.networks.Delete(ctx, e.admin, e.adminV, br.ID); err != nil {
			t.Fatal(err)
		}
	})
}
