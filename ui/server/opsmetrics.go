package server

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pitwall/pitwall/internal/store"
	"github.com/pitwall/pitwall/service/tests"
)

// opsWindow is how far back the quantiles of queue wait and state times look.
const opsWindow = time.Hour

// opsCacheFor keeps one reading of the database for this long, so that
// several Prometheus servers scraping every second cost one query set.
const opsCacheFor = 5 * time.Second

var (
	descTests = prometheus.NewDesc("pitwall_tests", "Tests by state.", []string{"state"}, nil)
	descAge   = prometheus.NewDesc("pitwall_agent_heartbeat_age_seconds",
		"Seconds since each agent's last heartbeat (an agent is online below 30).", []string{"agent"}, nil)
	descOnline = prometheus.NewDesc("pitwall_agents_online", "Agents whose last heartbeat is under 30 s old.", nil, nil)
	descWait   = prometheus.NewDesc("pitwall_test_queue_wait_seconds",
		"Time from a test's creation to its set-up, over the tests created in the last hour, by quantile.", []string{"quantile"}, nil)
	descWaitN = prometheus.NewDesc("pitwall_test_queue_wait_tests",
		"How many tests created in the last hour reached set-up (the quantiles' sample).", nil, nil)
	descState = prometheus.NewDesc("pitwall_test_state_seconds",
		"Time spent in each state by the tests that ended in the last hour, by quantile.", []string{"state", "quantile"}, nil)
	descUp = prometheus.NewDesc("pitwall_ops_metrics_up", "1 when the figures above could be read from the database.", nil, nil)
)

// opsCollector reports Pitwall's own work from the database at scrape
// time: tests by state, agents' heartbeats, queue wait and time per state.
type opsCollector struct {
	store *store.Store
	log   *slog.Logger

	mu   sync.Mutex
	at   time.Time
	last *store.OpsStats
}

func (c *opsCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descTests, descAge, descOnline, descWait, descWaitN, descState, descUp} {
		ch <- d
	}
}

func (c *opsCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.read()
	if st == nil {
		ch <- prometheus.MustNewConstMetric(descUp, prometheus.GaugeValue, 0)
		return
	}
	ch <- prometheus.MustNewConstMetric(descUp, prometheus.GaugeValue, 1)
	// Every state, none too: a graph of them starts at zero, not empty.
	for _, state := range tests.States {
		ch <- prometheus.MustNewConstMetric(descTests, prometheus.GaugeValue, float64(st.TestsByState[state]), state)
	}
	online := 0
	for agent, age := range st.HeartbeatAge {
		ch <- prometheus.MustNewConstMetric(descAge, prometheus.GaugeValue, age.Seconds(), agent)
		if age < store.AgentOnlineWithin {
			online++
		}
	}
	ch <- prometheus.MustNewConstMetric(descOnline, prometheus.GaugeValue, float64(online))
	quantiles := [3]string{"0.5", "0.9", "0.99"}
	ch <- prometheus.MustNewConstMetric(descWaitN, prometheus.GaugeValue, float64(st.QueueWaitN))
	if st.QueueWaitN > 0 {
		for i, q := range quantiles {
			ch <- prometheus.MustNewConstMetric(descWait, prometheus.GaugeValue, st.QueueWait[i], q)
		}
	}
	for state, v := range st.StateSeconds {
		for i, q := range quantiles {
			ch <- prometheus.MustNewConstMetric(descState, prometheus.GaugeValue, v[i], state, q)
		}
	}
}

// read returns the database's figures, at most opsCacheFor old; nil when
// the database does not answer.
func (c *opsCollector) read() *store.OpsStats {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.last != nil && time.Since(c.at) < opsCacheFor {
		return c.last
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	st, err := c.store.OpsStatsGet(ctx, time.Now().Add(-opsWindow))
	if err != nil {
		if c.log != nil {
			c.log.Warn("ops metrics", "error", err)
		}
		return nil
	}
	c.last, c.at = st, time.Now()
	return st
}
