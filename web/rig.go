package web

import (
	"context"
	"fmt"

	"allmende/models"
	"allmende/models/compute"
)

// RegisterHost makes sure the portal knows a host called name at uri, as
// `allmende dev two-hosts` needs for its rig hosts: it adds the host (and
// asks for its inventory) or, if a host of that name exists with the same
// URI, asks for a fresh inventory. A host of that name with another URI is
// an error: an admin may have changed it, and it is not ours to overwrite.
func (s *Server) RegisterHost(ctx context.Context, name, uri string) error {
	actor := models.SystemActor("dev two-hosts")
	hosts, err := s.hosts.List(ctx)
	if err != nil {
		return err
	}
	for _, h := range hosts {
		if h.Name != name {
			continue
		}
		if h.URI != uri {
			return fmt.Errorf("host %q exists with URI %s, not %s: remove it on the Hosts page or use another --data", name, h.URI, uri)
		}
		return s.hosts.RequestRefresh(ctx, actor, h.ID)
	}
	_, err = s.hosts.Add(ctx, actor, compute.HostInput{Name: name, URI: uri})
	return err
}
