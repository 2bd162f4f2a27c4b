package handlers

import (
	"net/http"
	"sync"
	"time"

	"github.com/labstack/echo/v4"

	"allmende/models/metering"
	"allmende/views"
)

// coverageMonths is how much cost-coverage history /commons shows.
const coverageMonths = 12

// commonsTTL is how long one reading of the commons serves every member:
// it names no one, so all see the same, and the hosts are measured only
// every 15 s anyway. Without it a page view costs a dozen queries.
const commonsTTL = 5 * time.Second

// commonsCache holds the last reading of the commons, per process.
type commonsCache struct {
	mu   sync.Mutex
	at   time.Time
	data views.CommonsView
}

func (h *Handler) commonsData(c echo.Context) (views.CommonsView, error) {
	cache := &h.commonsCache
	cache.mu.Lock()
	defer cache.mu.Unlock()
	if time.Since(cache.at) < commonsTTL {
		return cache.data, nil
	}
	d, err := h.readCommons(c)
	if err != nil {
		return d, err
	}
	cache.at, cache.data = time.Now(), d
	return d, nil
}

func (h *Handler) readCommons(c echo.Context) (views.CommonsView, error) {
	ctx := c.Request().Context()
	var d views.CommonsView
	var err error
	if d.Capacity, err = h.Commons.Capacity(ctx); err != nil {
		return d, err
	}
	if d.Coop, err = h.Commons.Cooperative(ctx); err != nil {
		return d, err
	}
	if d.Coverage, err = h.Commons.Coverage(ctx, coverageMonths); err != nil {
		return d, err
	}
	if h.Replicas != nil {
		if d.Replication, err = h.Replicas.HostsHealth(ctx); err != nil {
			return d, err
		}
	}
	return d, nil
}

// ShowCommons is /commons: the cooperative's machines and money as every
// member may see them, with no one's personal data.
func (h *Handler) ShowCommons(c echo.Context) error {
	d, err := h.commonsData(c)
	if err != nil {
		return err
	}
	p, err := h.page(c, "The commons", "commons")
	if err != nil {
		return err
	}
	return render(c, http.StatusOK, views.CommonsPage(p, d))
}

type apiCommons struct {
	Capacity    *metering.Capacity       `json:"capacity"`
	Cooperative *metering.Cooperative    `json:"cooperative"`
	Coverage    []metering.CoverageMonth `json:"coverage"`
	Replication []apiHostHealth          `json:"replication"`
}

type apiHostHealth struct {
	Host        string  `json:"host"`
	VMs         int     `json:"vms"`
	Replicated  int     `json:"replicated"`
	Good        int     `json:"good"`
	Lagging     int     `json:"lagging"`
	Failing     int     `json:"failing"`
	MaxLagS     float64 `json:"max_lag_seconds"`
	OldestGood  *string `json:"oldest_good_copy,omitempty"`
	CanAbsorbNP bool    `json:"partner_can_take_over"`
}

// APICommons answers GET /api/v1/commons.
func (h *Handler) APICommons(c echo.Context) error {
	d, err := h.commonsData(c)
	if err != nil {
		return err
	}
	out := apiCommons{Capacity: d.Capacity, Cooperative: d.Coop, Coverage: d.Coverage, Replication: []apiHostHealth{}}
	for _, r := range d.Replication {
		a := apiHostHealth{Host: r.HostName, VMs: r.VMs, Replicated: r.Replicated, Good: r.Good, Lagging: r.Lagging, Failing: r.Failing,
			MaxLagS: r.MaxLag.Seconds(), CanAbsorbNP: r.CanAbsorb}
		if r.OldestGood != nil {
			s := r.OldestGood.UTC().Format("2006-01-02T15:04:05Z")
			a.OldestGood = &s
		}
		out.Replication = append(out.Replication, a)
	}
	return c.JSON(http.StatusOK, out)
}
