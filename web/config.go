package web

import "allmende/config"

// Config is the portal's configuration, read by config.ParseFlags.
type Config = config.Config
