package handlers

import (
	"allmende/models/compute"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"
)

type apiSSHKey struct {
	ID          string    `json:"id"`
	Name        string    `json:"name"`
	PublicKey   string    `json:"public_key"`
	Fingerprint string    `json:"fingerprint"`
	CreatedAt   time.Time `json:"created_at"`
}

// apiSSHKeyRequest is the body of POST /api/v1/ssh-keys.
type apiSSHKeyRequest struct {
	Name      string `json:"name"`
	PublicKey string `json:"public_key"`
}

func toAPISSHKey(k *compute.SSHKey) apiSSHKey {
	return apiSSHKey{ID: k.ID, Name: k.Name, PublicKey: k.PublicKey, Fingerprint: k.Fingerprint, CreatedAt: k.CreatedAt}
}

// APIListSSHKeys answers GET /api/v1/ssh-keys: the caller's own keys.
func (h *Handler) APIListSSHKeys(c echo.Context) error {
	keys, err := h.SSHKeys.List(c.Request().Context(), viewer(CurrentUser(c)))
	if err != nil {
		return err
	}
	out := make([]apiSSHKey, 0, len(keys))
	for i := range keys {
		out = append(out, toAPISSHKey(&keys[i]))
	}
	return c.JSON(http.StatusOK, map[string]any{"ssh_keys": out})
}

// APIAddSSHKey answers POST /api/v1/ssh-keys with the stored key.
func (h *Handler) APIAddSSHKey(c echo.Context) error {
	var in apiSSHKeyRequest
	if err := bindJSON(c, &in); err != nil {
		return err
	}
	k, err := h.SSHKeys.Add(c.Request().Context(), actor(c), viewer(CurrentUser(c)),
		compute.SSHKeyInput{Name: in.Name, PublicKey: in.PublicKey})
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, toAPISSHKey(k))
}

// APIDeleteSSHKey answers DELETE /api/v1/ssh-keys/{id} with 204.
func (h *Handler) APIDeleteSSHKey(c echo.Context) error {
	if err := h.SSHKeys.Delete(c.Request().Context(), actor(c), viewer(CurrentUser(c)), c.Param("id")); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}
