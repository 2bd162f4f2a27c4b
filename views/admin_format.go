package views

import (
	"context"
	"strings"
	"time"

	"allmende/i18n"
	"allmende/models/compute"
)

// bytesIn is Bytes with the reader's decimal separator: 1,5 GiB or 1.5 GiB.
func bytesIn(ctx context.Context, n uint64) string {
	s := Bytes(n)
	if i18n.From(ctx).Lang == i18n.German {
		s = strings.Replace(s, ".", ",", 1)
	}
	return s
}

// dateTimeOrDash is a moment in the reader's language and zone; a dash
// for none.
func dateTimeOrDash(ctx context.Context, t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return i18n.DateTime(ctx, t)
}

// datePtr is an optional day in the reader's language; a dash for none.
func datePtr(ctx context.Context, t *time.Time) string {
	if t == nil || t.IsZero() {
		return "—"
	}
	return i18n.Date(ctx, *t)
}

// duration renders a lag or interval for people: "4 min 10 s" or
// "4 Min. 10 Sek.".
func duration(ctx context.Context, d time.Duration) string {
	d = d.Round(time.Second)
	switch {
	case d < time.Minute:
		return i18n.T(ctx, "%d s", int(d.Seconds()))
	case d < time.Hour:
		return i18n.T(ctx, "%d min %d s", int(d.Minutes()), int(d.Seconds())%60)
	}
	return i18n.T(ctx, "%d h %d min", int(d.Hours()), int(d.Minutes())%60)
}

// imageKindText names an image's kind for people.
func imageKindText(ctx context.Context, k compute.ImageKind) string {
	switch k {
	case compute.ImageDisk:
		return i18n.T(ctx, "disk image")
	case compute.ImageKernel:
		return i18n.T(ctx, "kernel")
	case compute.ImageInitrd:
		return i18n.T(ctx, "initrd")
	}
	return string(k)
}

// imageStatusText names an image's status for people.
func imageStatusText(ctx context.Context, s compute.ImageStatus) string {
	switch s {
	case compute.ImagePending:
		return i18n.T(ctx, "pending")
	case compute.ImageUploading:
		return i18n.T(ctx, "uploading")
	case compute.ImageReady:
		return i18n.T(ctx, "ready")
	case compute.ImageFailed:
		return i18n.T(ctx, "failed")
	}
	return string(s)
}
