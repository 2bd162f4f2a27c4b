package kit

import "github.com/google/uuid"

// newID returns a UUIDv7: unique across portal instances, and ordered by
// time, so that sorting by id sorts by creation (the audit log relies on it).
func NewID() string { return uuid.Must(uuid.NewV7()).String() }
