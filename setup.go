package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"allmende/config"
	"allmende/hypervisor"
	"allmende/jobs"
	"allmende/models"
	"allmende/models/compute"
)

// setupStarter is the command-line twin of the getting-started page: it
// makes the starter plan and images on a host and queues their build, as
// the page's button does. It does not build them itself: the job goes into
// the queue in the same transaction, with an insert-only client as `user
// create` would, and a running portal's workers take it up at once — or
// the portal does when it next starts. One way of building, in one place,
// whether the portal runs or not.
func setupStarter(ctx context.Context, args []string, stdout io.Writer, log *slog.Logger) error {
	var hostName string
	cfg, err := config.ParseFlags("setup starter", args, false, func(fs *flag.FlagSet) {
		fs.StringVar(&hostName, "host", "", "name of the host to put the image on (needed when there are several)")
	})
	if err != nil {
		return err
	}
	db, err := config.OpenDatabase(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer db.Close()
	queue, err := jobs.NewInsertOnly(db, log)
	if err != nil {
		return err
	}
	host, err := starterHost(ctx, compute.NewHosts(db, queue, hypervisor.ValidateURI), hostName)
	if err != nil {
		return err
	}
	set, err := compute.NewStarter(db, queue).Create(ctx, models.SystemActor("cli"), models.Viewer{Admin: true}, host.ID)
	if err != nil {
		return err
	}
	what := fmt.Sprintf("plan %q and image %q on host %s", set.Plan.Name, set.Disk.Name, host.Name)
	switch {
	case set.Ready():
		fmt.Fprintf(stdout, "the starter %s are ready\n", what)
	case set.Changed:
		fmt.Fprintf(stdout, "the starter %s are queued: a running portal builds and imports them now, otherwise the portal does when it starts (follow it on /admin/setup)\n", what)
	default:
		fmt.Fprintf(stdout, "the starter %s are being made already (follow it on /admin/setup)\n", what)
	}
	return nil
}

// starterHost is the host of that name, or the only one there is.
func starterHost(ctx context.Context, hosts *compute.Hosts, name string) (*compute.Host, error) {
	list, err := hosts.List(ctx)
	if err != nil {
		return nil, err
	}
	var names []string
	for i := range list {
		if name != "" && list[i].Name == name {
			return &list[i], nil
		}
		names = append(names, list[i].Name)
	}
	switch {
	case len(list) == 0:
		return nil, fmt.Errorf("no host yet: start the portal once (%s serve; with --libvirt auto it registers its private libvirtd as host \"local\"), or add a host on /admin/hosts",
			selfCommand(os.Args[0]))
	case name != "":
		return nil, fmt.Errorf("no host named %q (hosts: %s)", name, strings.Join(names, ", "))
	case len(list) > 1:
		return nil, errors.New("several hosts: choose one with --host (" + strings.Join(names, ", ") + ")")
	}
	return &list[0], nil
}
