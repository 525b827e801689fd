package promql

import (
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Every query of the Grafana dashboard in deploy/grafana reads metrics
// Pitwall really serves: a real Prometheus scraping the server answers each
// without error, and the ones about tests and agents with data.
func TestGrafanaDashboardQueriesPitwall(t *testing.T) {
	prom.Require(t)
	b, err := os.ReadFile("../../deploy/grafana/pitwall.json")
	require.NoError(t, err)
	var dash struct {
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	require.NoError(t, json.Unmarshal(b, &dash))
	require.NotEmpty(t, dash.Panels)
	mustHaveData := map[string]bool{"Tests by state": true, "Agents online": true, "Agent heartbeat age": true,
		"HTTP requests per second by route": true, "Server memory and goroutines": true}
	deadline := time.Now().Add(45 * time.Second) // a few scrapes, and the rate windows fill
	for _, p := range dash.Panels {
		for _, target := range p.Targets {
			expr := strings.ReplaceAll(target.Expr, "$job", ".*")
			for {
				n, problem := instant(t, expr)
				require.Empty(t, problem, "%s: %s", p.Title, expr)
				if n > 0 || !mustHaveData[p.Title] {
					break
				}
				require.True(t, time.Now().Before(deadline), "%s: %s answered no series", p.Title, expr)
				time.Sleep(time.Second)
			}
		}
	}
}

// instant runs expr now and returns how many series it answered, or
// Prometheus's error.
func instant(t *testing.T, expr string) (int, string) {
	t.Helper()
	resp, err := http.Get(prom.URL + "/api/v1/query?" + url.Values{"query": {expr}}.Encode())
	require.NoError(t, err)
	defer resp.Body.Close()
	var body struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			Result []json.RawMessage `json:"result"`
		} `json:"data"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&body))
	if body.Status != "success" {
		return 0, body.Error
	}
	return len(body.Data.Result), ""
}
