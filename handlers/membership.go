package handlers

import (
	"context"
	"io"
	"time"

	"allmende/models"
	"allmende/models/membership"
	"allmende/models/rulebook"
)

// MembershipService is what the handlers need from models.Memberships.
type MembershipService interface {
	// member side
	Apply(ctx context.Context, actor models.Actor, userID string, in membership.ApplicationInput) (*membership.Membership, error)
	Overview(ctx context.Context, userID string) (*membership.MembershipOverview, error)
	SubscribeShares(ctx context.Context, actor models.Actor, userID string, shares int) error
	GiveNotice(ctx context.Context, actor models.Actor, userID string, shares int) (*membership.Notice, error)
	WithdrawNotice(ctx context.Context, actor models.Actor, userID, noticeID string) error
	UpdateAddress(ctx context.Context, actor models.Actor, userID string, in membership.AddressInput) error
	Export(ctx context.Context, userID string) (*membership.PersonalData, error)

	// board side
	Applications(ctx context.Context) ([]membership.ApplicationSummary, error)
	Application(ctx context.Context, id string) (*membership.ApplicationDetail, error)
	Approve(ctx context.Context, actor models.Actor, membershipID string) (*membership.Membership, error)
	Reject(ctx context.Context, actor models.Actor, membershipID, reason string) error
	RecordPayment(ctx context.Context, actor models.Actor, membershipID string, amountCents int64, date time.Time, note string) error
	ReverseShareTransaction(ctx context.Context, actor models.Actor, txID, reason string) error
	ReverseCapitalTransaction(ctx context.Context, actor models.Actor, txID, reason string) error
	PayRefund(ctx context.Context, actor models.Actor, refundID string, date time.Time) error
	Register(ctx context.Context, f membership.RegisterFilter) ([]membership.RegisterEntry, error)
	WriteRegisterCSV(ctx context.Context, f membership.RegisterFilter, w io.Writer) error
	Member(ctx context.Context, membershipID string) (*membership.MembershipOverview, error)
	Exclude(ctx context.Context, actor models.Actor, membershipID, reason string) error
}

// RuleReader gives the rule parameters in force.
type RuleReader interface {
	Current(ctx context.Context) (rulebook.RuleParams, error)
}
