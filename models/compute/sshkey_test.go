package compute_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"net/http"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"

	"allmende/models"
	"allmende/models/compute"
	"allmende/models/modelstest"
)

func TestSSHKeys(t *testing.T) {
	modelstest.EachDB(t, func(t *testing.T, db *models.DB) {
		ctx := context.Background()
		e := newVMEnv(t, db)
		ada, adaV := e.member(t, "ada@example.org")
		bob, bobV := e.member(t, "bob@example.org")

		pub := ed25519Key(t, "ada@laptop")
		k, err := e.keys.Add(ctx, ada, adaV, compute.SSHKeyInput{Name: "laptop", PublicKey: "  " + pub + "\n"})
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(k.Fingerprint, "SHA256:") || k.PublicKey != pub {
			t.Errorf("key = %+v", k)
		}
		_, err = e.keys.Add(ctx, ada, adaV, compute.SSHKeyInput{Name: "again", PublicKey: pub})
		modelstest.FieldErr(t, err, "public_key")
		// The same key may belong to another account.
		if _, err := e.keys.Add(ctx, bob, bobV, compute.SSHKeyInput{Name: "shared", PublicKey: pub}); err != nil {
			t.Fatal(err)
		}

		small, err := rsa.GenerateKey(rand.Reader, 1024)
		if err != nil {
			t.Fatal(err)
		}
		smallPub, _ := ssh.NewPublicKey(&small.PublicKey)
		for _, bad := range []string{"", "ssh-ed25519 AAAA-not-base64", string(ssh.MarshalAuthorizedKey(smallPub)),
			`command="ls" ` + pub, pub + "\n" + ed25519Key(t, "two")} {
			_, err := e.keys.Add(ctx, ada, adaV, compute.SSHKeyInput{Name: "bad", PublicKey: bad})
			modelstest.FieldErr(t, err, "public_key")
		}

		list, err := e.keys.List(ctx, adaV)
		if err != nil || len(list) != 1 {
			t.Fatalf("ada's keys = %v, %v", list, err)
		}
		// Another member's key is not found, for every method; so for admins.
		if _, err := e.keys.Get(ctx, bobV, k.ID); err == nil {
			t.Error("bob reads ada's key")
		}
		modelstest.WantCode(t, e.keys.Rename(ctx, bob, bobV, k.ID, "mine"), http.StatusNotFound)
		modelstest.WantCode(t, e.keys.Delete(ctx, bob, bobV, k.ID), http.StatusNotFound)
		modelstest.WantCode(t, e.keys.Delete(ctx, e.admin, e.adminV, k.ID), http.StatusNotFound)
		if err := e.keys.Rename(ctx, ada, adaV, k.ID, "work laptop"); err != nil {
			t.Fatal(err)
		}
		if err := e.keys.Delete(ctx, ada, adaV, k.ID); err != nil {
			t.Fatal(err)
		}
		if list, _ := e.keys.List(ctx, adaV); len(list) != 0 {
			t.Errorf("keys after delete = %v", list)
		}
	})
}
