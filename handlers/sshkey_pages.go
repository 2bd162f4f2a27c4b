package handlers

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"allmende/models/compute"
	"allmende/views"
)

// ShowSSHKeys lists the viewer's own SSH keys with the form to add one.
func (h *Handler) ShowSSHKeys(c echo.Context) error {
	return h.renderSSHKeys(c, http.StatusOK, views.Form{})
}

func (h *Handler) renderSSHKeys(c echo.Context, status int, f views.Form) error {
	keys, err := h.SSHKeys.List(c.Request().Context(), viewer(CurrentUser(c)))
	if err != nil {
		return err
	}
	p, err := h.page(c, "SSH keys", "vms")
	if err != nil {
		return err
	}
	return render(c, status, views.SSHKeysPage(p, keys, f))
}

// AddSSHKey stores a public key of the viewer.
func (h *Handler) AddSSHKey(c echo.Context) error {
	f := formOf(c, "name", "public_key")
	k, err := h.SSHKeys.Add(c.Request().Context(), actor(c), viewer(CurrentUser(c)),
		compute.SSHKeyInput{Name: f.Value("name"), PublicKey: f.Value("public_key")})
	if err != nil {
		status, ok := formFailure(c.Request().Context(), err, &f)
		if !ok {
			return err
		}
		return h.renderSSHKeys(c, status, f)
	}
	return h.flashTo(c, "success", "Key "+k.Name+" added ("+k.Fingerprint+").", "/ssh-keys")
}

// DeleteSSHKey removes one of the viewer's keys; VMs made with it keep it.
func (h *Handler) DeleteSSHKey(c echo.Context) error {
	if err := h.SSHKeys.Delete(c.Request().Context(), actor(c), viewer(CurrentUser(c)), c.Param("id")); err != nil {
		return err
	}
	return h.flashTo(c, "success", "The key has been deleted.", "/ssh-keys")
}
