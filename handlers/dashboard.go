package handlers

import (
	"context"
	"net/http"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
	"golang.org/x/sync/singleflight"

	"allmende/i18n"
	"allmende/models"
	"allmende/models/account"
	"allmende/models/compute"
	"allmende/models/governance"
	"allmende/models/membership"
	"allmende/models/replication"
	"allmende/views"
)

// Home shows the dashboard, or sends anonymous visitors to log in. The
// dashboard says first what needs the person now, by role: the way to
// apply, money owed, open votes, proposals seeking support, VMs in
// trouble; for the board waiting applications and running assemblies; for
// admins hosts, failed tasks and replication.
func (h *Handler) Home(c echo.Context) error {
	u := CurrentUser(c)
	if u == nil {
		return redirect(c, "/login")
	}
	ctx := c.Request().Context()
	p, err := h.page(c, "Dashboard", "dashboard")
	if err != nil {
		return err
	}
	// A reading may be shared with other requests waiting for it, so it
	// does not end when this one's client goes away.
	ctx = context.WithoutCancel(ctx)
	read := func() (views.Dashboard, error) {
		var d views.Dashboard
		for _, add := range []func(context.Context, *account.User, *views.Dashboard) error{
			h.membershipTodos, h.governanceTodos, h.vmTodos, h.boardTodos, h.adminTodos,
		} {
			if err := add(ctx, u, &d); err != nil {
				return views.Dashboard{}, err
			}
		}
		return d, nil
	}
	// Admins' readings are not kept: they act on hosts and set-up and
	// look at the result at once (and there are few of them).
	var d views.Dashboard
	if u.Has(account.RoleAdmin) {
		d, err = read()
	} else {
		d, err = h.dashboards.read(u.ID+"/"+i18n.LangOf(ctx), read)
	}
	if err != nil {
		return err
	}
	d.Roles = nil // the reading may be shared: roles are this request's
	for _, r := range u.Roles {
		d.Roles = append(d.Roles, string(r))
	}
	return render(c, http.StatusOK, views.DashboardPage(p, d))
}

// dashboardTTL is how long one reading of what needs a person is shown
// again. The dashboard asks five domains; people reload it often, and a
// change (a vote cast, an application admitted) shows within this time.
const dashboardTTL = 2 * time.Second

// dashboardCache keeps the last reading per account and language. When
// it has run out, one request reads anew and the others asking for the
// same reading meanwhile wait for it: a burst of requests (several tabs,
// a reload storm) would otherwise queue a dozen queries each on the one
// SQLite writer connection.
type dashboardCache struct {
	mu      sync.Mutex
	entries map[string]dashboardEntry
	loads   singleflight.Group
}

type dashboardEntry struct {
	d  views.Dashboard
	at time.Time
}

func (c *dashboardCache) read(key string, load func() (views.Dashboard, error)) (views.Dashboard, error) {
	c.mu.Lock()
	e, ok := c.entries[key]
	c.mu.Unlock()
	if ok && time.Since(e.at) <= dashboardTTL {
		return e.d, nil
	}
	v, err, _ := c.loads.Do(key, func() (any, error) {
		d, err := load()
		if err != nil {
			return nil, err
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.entries == nil || len(c.entries) > 10000 {
			c.entries = map[string]dashboardEntry{} // bounded: old readings go at once
		}
		c.entries[key] = dashboardEntry{d: d, at: time.Now()}
		return d, nil
	})
	if err != nil {
		return views.Dashboard{}, err
	}
	return v.(views.Dashboard), nil
}

func (h *Handler) membershipTodos(ctx context.Context, u *account.User, d *views.Dashboard) error {
	ov, err := h.Members.Overview(ctx, u.ID)
	if models.IsNotFound(err) {
		if len(u.Roles) == 0 { // a newcomer; staff accounts need not be members
			d.Todos = append(d.Todos, views.Todo{Text: i18n.T(ctx, "Apply for membership"), Href: "/membership/apply"})
		}
		return nil
	}
	if err != nil {
		return err
	}
	switch ov.Membership.Status {
	case membership.StatusApplicant:
		d.Todos = append(d.Todos, views.Todo{Href: "/membership",
			Text: i18n.T(ctx, "Your application waits for the board: %d of %d approvals", len(ov.Approvals), ov.ApprovalsNeeded)})
	case membership.StatusMember, membership.StatusLeaving:
		if owed := ov.CapitalSubscribedCents - ov.CapitalPaidCents; owed > 0 {
			d.Todos = append(d.Todos, views.Todo{Href: "/membership", Urgent: true,
				Text: i18n.T(ctx, "Pay %s for your shares: your virtual machines may use only what paid shares entitle you to", i18n.Money(ctx, owed))})
		}
	}
	return nil
}

func (h *Handler) governanceTodos(ctx context.Context, u *account.User, d *views.Dashboard) error {
	if !u.Has(account.RoleMember) {
		return nil
	}
	v := viewer(u)
	assemblies, err := h.Governance.Assemblies(ctx, v)
	if err != nil {
		return err
	}
	for _, a := range assemblies {
		switch {
		case a.Status == governance.AssemblyVoting:
			d.Todos = append(d.Todos, views.Todo{Href: "/assemblies/" + a.ID, Urgent: true,
				Text: i18n.T(ctx, "Vote in %s: open until %s", a.Title, i18n.DateTime(ctx, a.VotingEnd))})
		case a.Status == governance.AssemblyPlanned && a.InvitedAt != nil:
			d.Todos = append(d.Todos, views.Todo{Href: "/assemblies/" + a.ID,
				Text: i18n.T(ctx, "%s: voting opens %s", a.Title, i18n.DateTime(ctx, a.VotingStart))})
		}
	}
	proposals, err := h.Governance.Proposals(ctx, v)
	if err != nil {
		return err
	}
	seeking := 0
	for _, pr := range proposals {
		if pr.Status == governance.ProposalSubmitted && pr.AuthorID != u.ID {
			seeking++
		}
	}
	if seeking > 0 {
		d.Todos = append(d.Todos, views.Todo{Href: "/proposals",
			Text: i18n.N(ctx, "%d proposal seeks support", "%d proposals seek support", seeking)})
	}
	return nil
}

func (h *Handler) vmTodos(ctx context.Context, u *account.User, d *views.Dashboard) error {
	if !u.Has(account.RoleMember) && !u.Has(account.RoleAdmin) {
		return nil
	}
	vms, err := h.VMs.List(ctx, viewer(u), compute.VMFilter{OwnerID: u.ID})
	if err != nil {
		return err
	}
	for _, vm := range vms {
		d.VMsTotal++
		switch vm.State {
		case compute.VMRunning:
			d.VMsRunning++
		case compute.VMError, compute.VMMissing:
			d.Todos = append(d.Todos, views.Todo{Href: "/vms/" + vm.ID, Urgent: true,
				Text: i18n.T(ctx, "Your virtual machine %s needs attention", vm.Name)})
		}
		if vm.HostDown {
			d.Todos = append(d.Todos, views.Todo{Href: "/vms/" + vm.ID, Urgent: true,
				Text: i18n.T(ctx, "The host of %s is not answering", vm.Name)})
		}
	}
	return nil
}

func (h *Handler) boardTodos(ctx context.Context, u *account.User, d *views.Dashboard) error {
	if !u.Has(account.RoleBoard) {
		return nil
	}
	apps, err := h.Members.Applications(ctx)
	if err != nil {
		return err
	}
	if len(apps) > 0 {
		d.Todos = append(d.Todos, views.Todo{Href: "/board/applications",
			Text: i18n.N(ctx, "%d application waits for the board", "%d applications wait for the board", len(apps))})
	}
	return nil
}

func (h *Handler) adminTodos(ctx context.Context, u *account.User, d *views.Dashboard) error {
	if !u.Has(account.RoleAdmin) {
		return nil
	}
	var err error
	if d.FirstRun, err = h.Starter.FirstRunNeeded(ctx); err != nil {
		return err
	}
	hosts, err := h.Hosts.List(ctx)
	if err != nil {
		return err
	}
	d.HostsTotal = len(hosts)
	for _, host := range hosts {
		if host.Reachable {
			d.HostsUp++
		}
	}
	if down := d.HostsTotal - d.HostsUp; down > 0 {
		d.Todos = append(d.Todos, views.Todo{Href: "/admin/hosts", Urgent: true,
			Text: i18n.N(ctx, "%d host is not answering", "%d hosts are not answering", down)})
	}
	tasks, err := h.Tasks.List(ctx, viewer(u), compute.TaskFilter{Limit: 50})
	if err != nil {
		return err
	}
	failed := 0
	for _, t := range tasks {
		if t.Status == compute.TaskFailed {
			failed++
		}
	}
	if failed > 0 {
		d.Todos = append(d.Todos, views.Todo{Href: "/tasks",
			Text: i18n.N(ctx, "%d of the last 50 tasks failed", "%d of the last 50 tasks failed", failed)})
	}
	if h.Replicas != nil {
		all, err := h.Replicas.List(ctx, viewer(u), replication.FilterAll)
		if err != nil {
			return err
		}
		for _, s := range all {
			switch {
			case s.Health == replication.HealthFailing:
				d.ReplicationFailing++
			case s.Lagging():
				d.ReplicationLagging++
			}
		}
	}
	return nil
}
