package e2e

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pitwall/pitwall/internal/wire"
)

// A team's admin manages its notification channels on the team page: a
// Slack hook (its token path never shown), a signed webhook (marked
// signed, the secret never shown), a refused one said on the page with
// the typed team page still there, and a removal; what the page saved is
// what the API reads. A user sets their own address on the account page.
func TestChannelsAndEmailPages(t *testing.T) {
	t.Parallel()
	require.Contains(t, []int{http.StatusCreated, http.StatusConflict},
		st.Call(t, http.MethodPost, "/api/v1/teams", "application/json", []byte(`{"name":"chan-team"}`), nil))
	user(t, "chan-admin", "chan-team", "admin")
	s := signInAs(t, "chan-admin")

	code, _, loc := s.post("/account/teams/chan-team/channels", url.Values{"name": {"perf-slack"}, "kind": {"slack"},
		"target": {"https://hooks.slack.example/services/T0/B0/XXSECRETXX"}, "min_severity": {"major"},
		"events": {"opened", "escalated"}, "frameworks": {"web-api, batch"}}, true)
	require.Equal(t, http.StatusSeeOther, code)
	require.Equal(t, "/account/teams/chan-team", loc)
	code, _, _ = s.post("/account/teams/chan-team/channels", url.Values{"name": {"ops-hook"}, "kind": {"webhook"},
		"target": {"https://ops.example/pitwall"}, "secret": {"a webhook secret"}}, true)
	require.Equal(t, http.StatusSeeOther, code)

	code, html := s.get("/account/teams/chan-team")
	require.Equal(t, http.StatusOK, code)
	require.Contains(t, html, `data-channel="perf-slack"`)
	require.Contains(t, html, "https://hooks.slack.example/…")
	require.NotContains(t, html, "XXSECRETXX", "a Slack hook's token is not shown")
	require.NotContains(t, html, "a webhook secret")
	require.Contains(t, html, "opened, escalated")
	require.Contains(t, html, "web-api, batch")
	require.Contains(t, html, "(signed)")

	var got wire.NotifyChannels
	require.Equal(t, http.StatusOK, st.Call(t, http.MethodGet, "/api/v1/teams/chan-team/channels", "", nil, &got))
	byName := map[string]wire.NotifyChannel{}
	for _, c := range got.Channels {
		byName[c.Name] = c
	}
	require.Equal(t, "https://hooks.slack.example/…", byName["perf-slack"].Target, "the API does not show the hook's token either")
	require.Equal(t, []string{"opened", "escalated"}, byName["perf-slack"].Events)
	require.Equal(t, "major", byName["perf-slack"].MinSeverity)
	require.Equal(t, []string{"web-api", "batch"}, byName["perf-slack"].Frameworks)
	require.True(t, byName["ops-hook"].HasSecret)
	require.Empty(t, byName["ops-hook"].Events, "none ticked: the default events")

	// Refused: said on the page, nothing stored.
	code, html, _ = s.post("/account/teams/chan-team/channels", url.Values{"name": {"bad"}, "kind": {"slack"},
		"target": {"not a url"}}, true)
	require.Equal(t, http.StatusBadRequest, code)
	require.Contains(t, html, "a webhook target is an http(s) URL")
	require.Contains(t, html, `id="channel-form"`)
	code, _, _ = s.post("/account/teams/chan-team/channels", url.Values{"name": {"no-csrf"}, "kind": {"email"},
		"target": {"a@example.test"}}, false)
	require.Equal(t, http.StatusForbidden, code, "no CSRF token, no channel")

	code, _, _ = s.post("/account/teams/chan-team/channels/perf-slack/delete", url.Values{}, true)
	require.Equal(t, http.StatusSeeOther, code)
	_, html = s.get("/account/teams/chan-team")
	require.NotContains(t, html, `data-channel="perf-slack"`)
	require.Contains(t, html, `data-channel="ops-hook"`)

	// One's own address.
	code, _, loc = s.post("/account/email", url.Values{"email": {"chan-admin@example.test"}}, true)
	require.Equal(t, http.StatusSeeOther, code)
	require.Equal(t, "/account?email=set", loc)
	_, html = s.get(loc)
	require.Contains(t, html, "E-mail address saved.")
	require.Contains(t, html, `value="chan-admin@example.test"`)
	code, html, _ = s.post("/account/email", url.Values{"email": {"Chan <chan@example.test>"}}, true)
	require.Equal(t, http.StatusBadRequest, code)
	require.True(t, strings.Contains(html, "is not a plain e-mail address"), "the refusal is on the page")
}
