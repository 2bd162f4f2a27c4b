package jobargs

// ProcessMemberships is the daily job that ends memberships whose notice
// takes effect and purges register data past its retention period.
type ProcessMemberships struct{}

func (ProcessMemberships) Kind() string { return "membership.daily" }
