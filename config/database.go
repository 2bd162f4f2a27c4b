package config

import (
	"allmende/jobs"
	"allmende/models"
	"context"
	"log/slog"
)

// OpenDatabase opens and migrates the database: the application schema and
// River's. Every subcommand goes through it.
func OpenDatabase(ctx context.Context, cfg *Config, log *slog.Logger) (*models.DB, error) {
	db, err := models.Open(cfg.Database)
	if err != nil {
		return nil, err
	}
	if err := models.Migrate(ctx, db); err != nil {
		db.Close()
		return nil, err
	}
	if err := jobs.Migrate(ctx, db, log); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}
