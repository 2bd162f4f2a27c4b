package account

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"

	"allmende/models"
	"allmende/models/internal/kit"
)

// Notifications are what the portal tells a member about things that
// concern them: a vote opened, their admission, a task that failed, a
// sanction, a payment booked. The domain that has the event records the
// notification in the event's own transaction (Notify), so a notification
// exists exactly when its event does. They live here, in the lowest domain,
// because every domain above may write one.
//
// The message is kept as its English format and arguments (a models.Msg)
// and translated when shown, in the reader's language of that day.
type Notifications struct {
	db *models.DB
}

// NewNotifications returns the notification service.
func NewNotifications(db *models.DB) *Notifications { return &Notifications{db: db} }

// Kind is what a notification is about; a member chooses per kind whether
// it comes by mail as well.
type Kind string

const (
	KindVotes      Kind = "votes"      // an assembly invites, voting opens
	KindMembership Kind = "membership" // admitted, application rejected
	KindTasks      Kind = "tasks"      // a task on one's virtual machine failed
	KindModeration Kind = "moderation" // a sanction, an appeal decided
	KindPayments   Kind = "payments"   // a payment booked on one's shares
)

// MailKind says how a kind of notification reaches the member by mail.
type MailKind struct {
	Kind Kind
	// Required: these mails are legal notices or decisions the member
	// must receive (admission, sanctions); they are sent whatever the
	// preference says, and the page says so.
	Required bool
}

// MailKinds are the kinds in the order the account page lists them.
var MailKinds = []MailKind{
	{Kind: KindVotes},
	{Kind: KindMembership, Required: true},
	{Kind: KindTasks},
	{Kind: KindModeration, Required: true},
	{Kind: KindPayments},
}

func knownKind(k Kind) bool {
	for _, m := range MailKinds {
		if m.Kind == k {
			return true
		}
	}
	return false
}

// Notification is one message to one account.
type Notification struct {
	ID        string
	UserID    string
	Kind      Kind
	Format    string      `gorm:"column:message"` // English format, the catalogue's id
	Args      models.Args // typed (dates, amounts, nested messages), see models.Args
	Link      string      // a page of the portal, or ""
	CreatedAt time.Time
	ReadAt    *time.Time
}

func (Notification) TableName() string { return "notifications" }

// Msg is the notification's message, to be translated where it is shown.
func (n *Notification) Msg() models.Msg {
	return models.Msg{Format: n.Format, Args: n.Args}
}

// Notify records a notification for userID in tx, the transaction of the
// event it tells of. link is the page to go to ("/assemblies/…").
func Notify(tx *gorm.DB, userID string, kind Kind, link string, m models.Msg) error {
	return NotifyMany(tx, []string{userID}, kind, link, m)
}

// NotifyMany records the same notification for many accounts (every
// member invited to an assembly) in batches.
func NotifyMany(tx *gorm.DB, userIDs []string, kind Kind, link string, m models.Msg) error {
	if len(userIDs) == 0 {
		return nil
	}
	if !knownKind(kind) {
		return fmt.Errorf("notify: unknown kind %q", kind)
	}
	now := kit.UTCNow()
	rows := make([]Notification, 0, len(userIDs))
	for _, id := range userIDs {
		rows = append(rows, Notification{ID: kit.NewID(), UserID: id, Kind: kind, Format: m.Format,
			Args: m.Args, Link: link, CreatedAt: now})
	}
	if err := tx.CreateInBatches(rows, 500).Error; err != nil {
		return fmt.Errorf("record %d notifications (%s): %w", len(rows), kind, err)
	}
	models.AfterCommit(tx, func(db *models.DB) { unreadOf(db).forget(userIDs...) })
	return nil
}

// NotificationPage is one page of a member's notifications, newest first.
type NotificationPage struct {
	Items  []Notification
	Unread int64
	More   bool // older ones exist beyond this page
}

// List returns the newest notifications of userID (at most limit, 1..200).
func (s *Notifications) List(ctx context.Context, userID string, limit int) (*NotificationPage, error) {
	if limit < 1 || limit > 200 {
		limit = 50
	}
	var rows []Notification
	if err := s.db.Gorm.WithContext(ctx).Where("user_id = ?", userID).Order("created_at DESC, id DESC").
		Limit(limit + 1).Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("list notifications: %w", err)
	}
	// The list is the place to see them exactly: it counts afresh, also
	// what another portal instance wrote a moment ago.
	unread, err := s.count(ctx, userID, false)
	if err != nil {
		return nil, err
	}
	p := &NotificationPage{Items: rows, Unread: unread}
	if len(rows) > limit {
		p.Items, p.More = rows[:limit], true
	}
	return p, nil
}

// Unread counts the notifications userID has not marked read, for the
// navigation of every page. The count is kept in memory for a moment
// (unreadTTL, where the reasons are); when it must be read, it runs as a
// statement prepared once, without gorm, on an index.
func (s *Notifications) Unread(ctx context.Context, userID string) (int64, error) {
	return s.count(ctx, userID, true)
}

// count counts the unread notifications of userID, from memory when
// cached is set and it has the count, and keeps what it read.
func (s *Notifications) count(ctx context.Context, userID string, cached bool) (int64, error) {
	cache := unreadOf(s.db)
	n, ok, gen := cache.get(userID)
	if ok && cached {
		return n, nil
	}
	st, err := s.db.ReadStmt(ctx, "SELECT count(*) FROM notifications WHERE user_id = ? AND read_at IS NULL")
	if err != nil {
		return 0, fmt.Errorf("count unread notifications: %w", err)
	}
	if err := st.QueryRowContext(ctx, userID).Scan(&n); err != nil {
		return 0, fmt.Errorf("count unread notifications: %w", err)
	}
	cache.put(userID, n, gen)
	return n, nil
}

// MarkRead marks one of userID's notifications read. Another account's
// notification is "not found".
func (s *Notifications) MarkRead(ctx context.Context, userID, id string) error {
	return s.db.Tx(ctx, func(tx *gorm.DB) error {
		var n Notification
		err := tx.Where("id = ? AND user_id = ?", id, userID).Take(&n).Error
		if errors.Is(err, gorm.ErrRecordNotFound) {
			return models.NotFoundError("notification")
		}
		if err != nil {
			return fmt.Errorf("load notification %s: %w", id, err)
		}
		if n.ReadAt != nil {
			return nil
		}
		if err := tx.Model(&Notification{}).Where("id = ?", id).Update("read_at", kit.UTCNow()).Error; err != nil {
			return fmt.Errorf("mark notification %s read: %w", id, err)
		}
		models.AfterCommit(tx, func(db *models.DB) { unreadOf(db).forget(userID) })
		return nil
	})
}

// MarkAllRead marks every unread notification of userID read and says how
// many there were.
func (s *Notifications) MarkAllRead(ctx context.Context, userID string) (int64, error) {
	res := s.db.Gorm.WithContext(ctx).Model(&Notification{}).Where("user_id = ? AND read_at IS NULL", userID).
		Update("read_at", kit.UTCNow())
	if res.Error != nil {
		return 0, fmt.Errorf("mark notifications read: %w", res.Error)
	}
	unreadOf(s.db).forget(userID)
	return res.RowsAffected, nil
}
