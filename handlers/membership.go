package handlers

import (
	"context"
	"io"
	"time"

	"allmende/models"
)

// MembershipService is what the handlers need from models.Memberships.
type MembershipService interface {
	// member side
	Apply(ctx context.Context, actor models.Actor, userID string, in models.ApplicationInput) (*models.Membership, error)
	Overview(ctx context.Context, userID string) (*models.MembershipOverview, error)
	SubscribeShares(ctx context.Context, actor models.Actor, userID string, shares int) error
	GiveNotice(ctx context.Context, actor models.Actor, userID string, shares int) (*models.Notice, error)
	WithdrawNotice(ctx context.Context, actor models.Actor, userID, noticeID string) error
	UpdateAddress(ctx context.Context, actor models.Actor, userID string, in models.AddressInput) error
	Export(ctx context.Context, userID string) (*models.PersonalData, error)

	// board side
	Applications(ctx context.Context) ([]models.ApplicationSummary, error)
	Application(ctx context.Context, id string) (*models.ApplicationDetail, error)
	Approve(ctx context.Context, actor models.Actor, membershipID string) (*models.Membership, error)
	Reject(ctx context.Context, actor models.Actor, membershipID, reason string) error
	RecordPayment(ctx context.Context, actor models.Actor, membershipID string, amountCents int64, date time.Time, note string) error
	ReverseShareTransaction(ctx context.Context, actor models.Actor, txID, reason string) error
	ReverseCapitalTransaction(ctx context.Context, actor models.Actor, txID, reason string) error
	PayRefund(ctx context.Context, actor models.Actor, refundID string, date time.Time) error
	Register(ctx context.Context, f models.RegisterFilter) ([]models.RegisterEntry, error)
	WriteRegisterCSV(ctx context.Context, f models.RegisterFilter, w io.Writer) error
	Member(ctx context.Context, membershipID string) (*models.MembershipOverview, error)
	Exclude(ctx context.Context, actor models.Actor, membershipID, reason string) error
}

// RuleReader gives the rule parameters in force.
type RuleReader interface {
	Current(ctx context.Context) (models.RuleParams, error)
}
