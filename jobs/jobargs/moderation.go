package jobargs

// ModerationEnforce brings one VM on its host in line with the sanctions
// in force (models/moderation): throttled or not, paused while locked,
// resumed when the lock ends. Idempotent; the reconciler repeats it.
type ModerationEnforce struct {
	VMID string `json:"vm_id"`
	// CaseID names the case whose log records what the job did.
	CaseID string `json:"case_id"`
}

func (ModerationEnforce) Kind() string { return "moderation.enforce" }

// ModerationSweep is the periodic job that ends sanctions whose time is
// up and emergency suspensions no second moderator confirmed in time.
type ModerationSweep struct{}

func (ModerationSweep) Kind() string { return "moderation.sweep" }
