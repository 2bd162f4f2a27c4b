package compute_test

import (
	"context"
	"slices"
	"testing"

	"allmende/models"
	"allmende/models/compute"
	"allmende/models/modelstest"
)

// TestVMListSearchAndPages: the list's search matches a part of the name or
// the IP address, in any case and literally (a "%" is no wildcard), the
// owner's address only for admins, never another member's VMs; Limit and
// Offset cut pages in name order.
func TestVMListSearchAndPages(t *testing.T) {
	modelstest.EachDB(t, func(t *testing.T, db *models.DB) {
		ctx := context.Background()
		e := newVMEnv(t, db)
		ada, adaV := e.member(t, "ada@example.org")
		bob, bobV := e.member(t, "bob@example.org")
		for _, n := range []string{"web-2", "db-1", "web-1", "mail", "Web-3"} {
			e.create(t, ada, adaV, n)
		}
		bobs := e.create(t, bob, bobV, "web-9")
		names := func(v models.Viewer, f compute.VMFilter) []string {
			t.Helper()
			vms, err := e.vms.List(ctx, v, f)
			if err != nil {
				t.Fatal(err)
			}
			var out []string
			for _, vm := range vms {
				out = append(out, vm.Name)
			}
			return out
		}
		want := func(got, want []string) {
			t.Helper()
			if !slices.Equal(got, want) {
				t.Errorf("got %v, want %v", got, want)
			}
		}
		want(names(adaV, compute.VMFilter{Query: "WEB"}), []string{"web-1", "web-2", "Web-3"})
		want(names(adaV, compute.VMFilter{Query: " web-1 "}), []string{"web-1"})
		want(names(adaV, compute.VMFilter{Query: "%"}), nil)
		want(names(adaV, compute.VMFilter{Query: "_"}), nil)
		want(names(adaV, compute.VMFilter{Query: "bob@"}), nil) // a member never searches by owner
		want(names(e.adminV, compute.VMFilter{Query: "bob@"}), []string{"web-9"})

		bobsIP, err := e.vms.Get(ctx, bobV, bobs.ID)
		if err != nil || bobsIP.IPAddress == "" {
			t.Fatalf("bob's VM has no address: %+v %v", bobsIP, err)
		}
		want(names(bobV, compute.VMFilter{Query: bobsIP.IPAddress}), []string{"web-9"})
		want(names(adaV, compute.VMFilter{Query: bobsIP.IPAddress}), nil)

		all := names(adaV, compute.VMFilter{})
		want(all, []string{"db-1", "mail", "web-1", "web-2", "Web-3"})
		want(names(adaV, compute.VMFilter{Limit: 2}), all[:2])
		want(names(adaV, compute.VMFilter{Limit: 2, Offset: 2}), all[2:4])
		want(names(adaV, compute.VMFilter{Limit: 2, Offset: 4}), all[4:])
		want(names(adaV, compute.VMFilter{Limit: 2, Offset: 6}), nil)
		want(names(adaV, compute.VMFilter{Query: "web", Limit: 2, Offset: 2}), []string{"Web-3"})

		// Count is what the pages hold together, for the viewer only.
		for _, c := range []struct {
			v    models.Viewer
			f    compute.VMFilter
			want int
		}{{adaV, compute.VMFilter{}, 5}, {adaV, compute.VMFilter{Query: "web", Limit: 2, Offset: 2}, 3},
			{bobV, compute.VMFilter{}, 1}, {adaV, compute.VMFilter{Query: "bob@"}, 0}, {e.adminV, compute.VMFilter{Query: "bob@"}, 1}} {
			if n, err := e.vms.Count(ctx, c.v, c.f); err != nil || n != c.want {
				t.Errorf("Count(%+v) = %d, %v; want %d", c.f, n, err, c.want)
			}
		}
	})
}

func TestLoginUser(t *testing.T) {
	for image, want := range map[string]string{"debian-13": "debian", "Ubuntu-24.04": "ubuntu", "starter": "root", "": "root"} {
		if got := compute.LoginUser(image); got != want {
			t.Errorf("LoginUser(%q) = %q, want %q", image, got, want)
		}
	}
}
