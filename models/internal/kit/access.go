package kit

import "allmende/models"

// requireAdmin guards the catalogue that admins keep (plans, images,
// networks, host settings, drift reports).
func RequireAdmin(v models.Viewer) error {
	if !v.Admin {
		return models.Forbidden("Only administrators may do this.")
	}
	return nil
}
