package models

// requireAdmin guards the catalogue that admins keep (plans, images,
// networks, host settings, drift reports).
func requireAdmin(v Viewer) error {
	if !v.Admin {
		return Forbidden("Only administrators may do this.")
	}
	return nil
}
