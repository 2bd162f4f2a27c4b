package models_test

import (
	"context"
	"errors"
	"net/http"
	"testing"

	"allmende/models"
)

func TestImagesRegisterAndUpload(t *testing.T) {
	eachDB(t, func(t *testing.T, db *models.DB) {
		ctx := context.Background()
		e := newVMEnv(t, db)
		_, memberV := e.member(t, "m@example.org")

		_, err := e.images.Register(ctx, e.admin, e.adminV, models.ImageInput{Name: "", HostID: "nope", Pool: "../x", Volume: "a/b", Format: "vmdk"})
		for _, f := range []string{"name", "host_id", "pool", "volume", "format", "virtual_size_bytes"} {
			fieldErr(t, err, f)
		}
		_, err = e.images.Register(ctx, e.admin, e.adminV, models.ImageInput{Name: "Debian-13", HostID: e.host.ID, Pool: "default",
			Volume: "other.qcow2", Format: "qcow2", VirtualSizeBytes: 1})
		fieldErr(t, err, "name")
		_, err = e.images.Register(ctx, e.admin, memberV, models.ImageInput{})
		wantCode(t, err, http.StatusForbidden)

		jobsBefore := count(t, db, "river_job", "kind = 'image.import'")
		img, err := e.images.BeginUpload(ctx, e.admin, e.adminV, models.UploadInput{
			Name: "alpine", HostID: e.host.ID, Pool: "default", Format: "qcow2", Path: "/data/uploads/x.qcow2"})
		if err != nil {
			t.Fatal(err)
		}
		if img.Status != models.ImageUploading || img.Volume != "allmende-image-"+img.ID {
			t.Errorf("uploaded image = %+v", img)
		}
		if n := count(t, db, "river_job", "kind = 'image.import'"); n != jobsBefore+1 {
			t.Errorf("import jobs = %d, want %d", n, jobsBefore+1)
		}
		if _, err := e.images.Get(ctx, memberV, img.ID); err == nil {
			t.Error("member sees an image still uploading")
		}
		view, err := e.images.ForImport(ctx, img.ID)
		if err != nil || view.HostURI != e.host.URI {
			t.Fatalf("import view = %+v, %v", view, err)
		}
		if err := e.images.MarkReady(ctx, img.ID, 3<<30); err != nil {
			t.Fatal(err)
		}
		got, err := e.images.Get(ctx, memberV, img.ID)
		if err != nil || got.VirtualSizeBytes != 3<<30 {
			t.Fatalf("ready image = %+v, %v", got, err)
		}

		failed, err := e.images.BeginUpload(ctx, e.admin, e.adminV, models.UploadInput{
			Name: "broken", HostID: e.host.ID, Pool: "default", Format: "raw", Path: "/data/uploads/y.raw"})
		if err != nil {
			t.Fatal(err)
		}
		if err := e.images.MarkFailed(ctx, failed.ID, errors.New("not a disk image")); err != nil {
			t.Fatal(err)
		}
		all, err := e.images.List(ctx, e.adminV)
		if err != nil || len(all) != 3 {
			t.Fatalf("admin images = %d, %v", len(all), err)
		}
		ready, err := e.images.List(ctx, memberV)
		if err != nil || len(ready) != 2 {
			t.Fatalf("member images = %d, %v", len(ready), err)
		}
		if err := e.images.Delete(ctx, e.admin, e.adminV, failed.ID); err != nil {
			t.Fatal(err)
		}
		if n := count(t, db, "images", "id = ?", failed.ID); n != 0 {
			t.Error("unused image not deleted")
		}
	})
}
