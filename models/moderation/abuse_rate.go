package moderation

import (
	"allmende/models"
	"allmende/models/internal/kit"
	"context"
	"fmt"
	"net/http"
	"net/netip"
	"strconv"
	"time"
)

// The abuse form's rate limit. Like the login throttle (models/account),
// attempts are counted in the database, so the limit holds across portal
// instances and restarts. Every submission counts, valid or not: counting
// only stored reports let an address probe without end which addresses and
// times resolve to a VM of the cooperative. Two limits per sending
// address, per hour: ExternalAttemptsPerHour submissions, of which at most
// ExternalPerHour may be stored as reports. A refused submission (429) is
// not counted: it checked nothing.
const abuseWindow = time.Hour

// abuseAttempt is one submission of the abuse form or endpoint.
type abuseAttempt struct {
	ID        string
	Sender    string
	CreatedAt time.Time
}

func (abuseAttempt) TableName() string { return "moderation_abuse_attempts" }

// AbuseThrottled is the cause of ReportAbuse's 429: how long the sender
// must wait until a submission leaves the window.
type AbuseThrottled struct {
	RetryAfter time.Duration
	Count      int    // the submissions or reports counted
	What       string // "submissions" or "reports"
}

func (e *AbuseThrottled) Error() string {
	return fmt.Sprintf("abuse reports throttled after %d %s in an hour, retry after %s", e.Count, e.What, e.RetryAfter)
}

// RetryAfterSeconds is the Retry-After header's value, at least 1.
func (e *AbuseThrottled) RetryAfterSeconds() string {
	return strconv.Itoa(max(int((e.RetryAfter+time.Second-1)/time.Second), 1))
}

// abuseThrottled is the 429 with a message that holds for both limits.
func abuseThrottled(count int, what string, oldest, now time.Time) *models.Error {
	return &models.Error{Code: http.StatusTooManyRequests,
		Safe: "Too many reports from your address in the last hour. Please wait before sending more, or write to the cooperative's abuse contact.",
		Err:  &AbuseThrottled{RetryAfter: max(oldest.Add(abuseWindow).Sub(now), time.Second), Count: count, What: what}}
}

// senderKey is what the limit counts by: the address, an IPv6 address by
// its /64 (one subscriber's network; each of its addresses is free to use).
func senderKey(ip string) string {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return ip
	}
	a = a.Unmap()
	if a.Is6() {
		p, err := a.Prefix(64)
		if err == nil {
			return p.String()
		}
	}
	return a.String()
}

// countAbuseAttempt refuses a sender that used up its submissions for the
// hour, and otherwise counts this one. It commits on its own: an attempt
// counts whether or not its report is valid.
func (m *Moderation) countAbuseAttempt(ctx context.Context, sender string, now time.Time) error {
	db := m.db.Gorm.WithContext(ctx)
	var recent []time.Time
	if err := db.Model(&abuseAttempt{}).Where("sender = ? AND created_at > ?", sender, now.Add(-abuseWindow)).
		Order("created_at DESC").Limit(ExternalAttemptsPerHour).Pluck("created_at", &recent).Error; err != nil {
		return fmt.Errorf("count abuse report attempts of %s: %w", sender, err)
	}
	if len(recent) >= ExternalAttemptsPerHour {
		return abuseThrottled(len(recent), "submissions", recent[len(recent)-1], now)
	}
	if err := db.Create(&abuseAttempt{ID: kit.NewID(), Sender: sender, CreatedAt: now}).Error; err != nil {
		return fmt.Errorf("count abuse report attempt of %s: %w", sender, err)
	}
	return nil
}

// PruneAbuseAttempts forgets submissions that left the window; the
// moderation sweep calls it.
func (m *Moderation) PruneAbuseAttempts(ctx context.Context) error {
	if err := m.db.Gorm.WithContext(ctx).Where("created_at <= ?", m.now().Add(-abuseWindow)).Delete(&abuseAttempt{}).Error; err != nil {
		return fmt.Errorf("prune abuse report attempts: %w", err)
	}
	return nil
}
