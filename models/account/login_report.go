package account

import (
	"context"
	"fmt"
	"time"
)

// FailureGroup sums failed logins of one address or one account.
type FailureGroup struct {
	Key      string // the address or the email
	Failures int64
	Accounts int64 // distinct accounts tried (by address) or addresses used (by account)
	Last     time.Time
}

// LoginReport is what admins see of the login throttle: who is being
// tried from where, over the last Since.
type LoginReport struct {
	Since     time.Duration
	ByAddress []FailureGroup
	ByAccount []FailureGroup
}

const reportRows = 50

// FailedLogins groups the failed logins of the last period by address and
// by account, most failures first.
func (a *Accounts) FailedLogins(ctx context.Context, period time.Duration) (*LoginReport, error) {
	since := a.now().Add(-period)
	r := &LoginReport{Since: period}
	for _, g := range []struct {
		key, other string
		out        *[]FailureGroup
	}{{"ip", "email", &r.ByAddress}, {"email", "ip", &r.ByAccount}} {
		rows, err := a.db.Read.WithContext(ctx).Raw(`SELECT `+g.key+`, COUNT(*), COUNT(DISTINCT `+g.other+`), MAX(created_at)
			FROM login_attempts WHERE success = ? AND created_at > ?
			GROUP BY `+g.key+` ORDER BY COUNT(*) DESC, `+g.key+` LIMIT ?`, false, since, reportRows).Rows()
		if err != nil {
			return nil, fmt.Errorf("failed logins by %s: %w", g.key, err)
		}
		for rows.Next() {
			var f FailureGroup
			var last any
			if err := rows.Scan(&f.Key, &f.Failures, &f.Accounts, &last); err != nil {
				rows.Close()
				return nil, fmt.Errorf("scan failed logins: %w", err)
			}
			f.Last = asTime(last)
			*g.out = append(*g.out, f)
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return nil, fmt.Errorf("failed logins by %s: %w", g.key, err)
		}
	}
	return r, nil
}

// asTime reads MAX(created_at): PostgreSQL answers a time, SQLite the text
// the driver stored (time.Time.String's layout for modernc).
func asTime(v any) time.Time {
	switch t := v.(type) {
	case time.Time:
		return t
	case string:
		for _, layout := range []string{"2006-01-02 15:04:05.999999999 -0700 MST", "2006-01-02 15:04:05.999999999-07:00", time.RFC3339Nano, "2006-01-02 15:04:05.999999999"} {
			if p, err := time.Parse(layout, t); err == nil {
				return p
			}
		}
	case []byte:
		return asTime(string(t))
	}
	return time.Time{}
}
