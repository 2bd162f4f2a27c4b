package models

// MigrateTo is migrateTo for the tests of package models_test.
var MigrateTo = migrateTo
