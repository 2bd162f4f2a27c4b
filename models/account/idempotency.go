package account

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"time"

	"gorm.io/gorm"

	"allmende/models"
	"allmende/models/internal/kit"
)

// Idempotency keys of the API's money-moving POSTs: a client that is not
// sure its payment was booked (a timeout, a dropped connection) sends the
// same request again with the same Idempotency-Key and gets the first
// answer back instead of a second booking. Keys are per account and live
// IdempotencyTTL; the row keeps a hash of the request, so a key reused for
// another request is refused rather than answered with the wrong result.

// IdempotencyTTL is how long a key and its answer are kept.
const IdempotencyTTL = 24 * time.Hour

// MaxIdempotencyKey bounds a key's length (a UUID is 36).
const MaxIdempotencyKey = 255

// IdempotencyKeys stores the keys and the answers.
type IdempotencyKeys struct {
	db    *models.DB
	clock models.Clock
}

// NewIdempotencyKeys returns the store.
func NewIdempotencyKeys(db *models.DB, clock models.Clock) *IdempotencyKeys {
	if clock == nil {
		clock = models.SystemClock{}
	}
	return &IdempotencyKeys{db: db, clock: clock}
}

// StoredAnswer is the first answer to a request under a key.
type StoredAnswer struct {
	Status      int
	ContentType string
	Body        []byte
}

type idempotencyRow struct {
	UserID      string `gorm:"column:user_id"`
	IdemKey     string `gorm:"column:idem_key"`
	RequestHash string `gorm:"column:request_hash"`
	Status      int    `gorm:"column:status"`
	ContentType string `gorm:"column:content_type"`
	Body        string `gorm:"column:body"`
	CreatedAt   time.Time
}

func (idempotencyRow) TableName() string { return "idempotency_keys" }

// RequestHash identifies a request: its method, path and body.
func RequestHash(method, path string, body []byte) string {
	h := sha256.New()
	fmt.Fprintf(h, "%s\n%s\n", method, path)
	h.Write(body)
	return hex.EncodeToString(h.Sum(nil))
}

// ValidIdempotencyKey says whether key is usable: 1 to MaxIdempotencyKey
// printable ASCII characters.
func ValidIdempotencyKey(key string) bool {
	if key == "" || len(key) > MaxIdempotencyKey {
		return false
	}
	for i := 0; i < len(key); i++ {
		if key[i] < 0x21 || key[i] > 0x7e {
			return false
		}
	}
	return true
}

// Claim takes key for userID's request with hash. It answers nil when the
// request is the first under the key and is to be carried out (Finish or
// Release must follow), the stored answer when the same request was
// answered before, 422 when the key was used for another request and 409
// while the first request under the key is still being answered.
func (s *IdempotencyKeys) Claim(ctx context.Context, userID, key, hash string) (*StoredAnswer, error) {
	if !ValidIdempotencyKey(key) {
		return nil, models.ErrorMsg(http.StatusBadRequest, models.Msgf("The Idempotency-Key header must be 1 to %d printable characters.", MaxIdempotencyKey))
	}
	now := s.clock.Now().UTC()
	db := s.db.Gorm.WithContext(ctx)
	// An expired key is free again; dropping every expired row of the
	// account here keeps the table small without a sweeper job.
	if err := db.Exec("DELETE FROM idempotency_keys WHERE user_id = ? AND created_at < ?", userID, now.Add(-IdempotencyTTL)).Error; err != nil {
		return nil, fmt.Errorf("drop expired idempotency keys: %w", err)
	}
	row := idempotencyRow{UserID: userID, IdemKey: key, RequestHash: hash, CreatedAt: now}
	err := db.Create(&row).Error
	if err == nil {
		return nil, nil
	}
	if !kit.IsUniqueViolation(err) {
		return nil, fmt.Errorf("claim idempotency key: %w", err)
	}
	var prev idempotencyRow
	if err := db.Where("user_id = ? AND idem_key = ?", userID, key).Take(&prev).Error; err != nil {
		if errors.Is(err, gorm.ErrRecordNotFound) { // released in between: the caller may retry
			return nil, models.Conflict("A request with this Idempotency-Key was just given up; send it again.")
		}
		return nil, fmt.Errorf("load idempotency key: %w", err)
	}
	switch {
	case prev.RequestHash != hash:
		return nil, &models.Error{Code: http.StatusUnprocessableEntity,
			Safe: "This Idempotency-Key was used for a different request; use a new key for a new request."}
	case prev.Status == 0:
		return nil, models.Conflict("A request with this Idempotency-Key is still being answered.")
	}
	return &StoredAnswer{Status: prev.Status, ContentType: prev.ContentType, Body: []byte(prev.Body)}, nil
}

// Finish keeps the answer to the request that claimed key.
func (s *IdempotencyKeys) Finish(ctx context.Context, userID, key string, a StoredAnswer) error {
	err := s.db.Gorm.WithContext(ctx).Exec(
		"UPDATE idempotency_keys SET status = ?, content_type = ?, body = ? WHERE user_id = ? AND idem_key = ?",
		a.Status, a.ContentType, string(a.Body), userID, key).Error
	if err != nil {
		return fmt.Errorf("keep idempotent answer: %w", err)
	}
	return nil
}

// Release frees key after its request failed on the server's side, so
// that the client's retry is carried out rather than answered with the
// failure.
func (s *IdempotencyKeys) Release(ctx context.Context, userID, key string) error {
	err := s.db.Gorm.WithContext(ctx).Exec("DELETE FROM idempotency_keys WHERE user_id = ? AND idem_key = ? AND status = 0", userID, key).Error
	if err != nil {
		return fmt.Errorf("release idempotency key: %w", err)
	}
	return nil
}
