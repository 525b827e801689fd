package account

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/a-h/templ"

	"github.com/pitwall/pitwall/internal/auth"
	"github.com/pitwall/pitwall/internal/store"
	"github.com/pitwall/pitwall/internal/wire"
)

// model is what the account page draws.
type model struct {
	Principal *auth.Principal
	Teams     []membership
	// AllTeams lists every team, for site admins.
	AllTeams []string
	Tokens   []store.Token
	// EmailShown is false when the server has no alerts service; Email is
	// the user's address for mail about their tests.
	EmailShown bool
	Email      string
	Error      string
	// Notice says what the last action did.
	Notice string
}

// usersModel is what the users page draws.
type usersModel struct {
	Users []store.User
	// Bootstrap lists the bootstrap tokens (one, or none once retired).
	Bootstrap []store.Token
	// Agents lists the agents' tokens.
	Agents []store.Token
	Error  string
	// Me is the viewing site admin's user ID (0 for a token without one).
	Me int64
}

// teamList is a user's roles, "team: role" by team.
func teamList(teams map[string]string) string {
	out := make([]string, 0, len(teams))
	for t, r := range teams {
		out = append(out, t+": "+r)
	}
	slices.Sort(out)
	return strings.Join(out, ", ")
}

// madeWith says what a token was made with.
func madeWith(t store.Token, bootstrap []store.Token) string {
	if t.ParentID == nil {
		return "signed in"
	}
	for _, b := range bootstrap {
		if b.ID == *t.ParentID {
			return "the bootstrap token"
		}
	}
	return fmt.Sprintf("token %d", *t.ParentID)
}

// userAction is where a user's forms on the users page post.
func userAction(name, rest string) templ.SafeURL {
	return templ.SafeURL("/account/users/" + url.PathEscape(name) + rest)
}

type membership struct {
	Team, Role string
}

func cmpString(a, b string) int { return strings.Compare(a, b) }

// tokenTeams are the teams a token may be made for: mine, or all for site admins.
func (m model) tokenTeams() []string {
	if m.Principal.SiteAdmin {
		return m.AllTeams
	}
	out := make([]string, 0, len(m.Teams))
	for _, t := range m.Teams {
		out = append(out, t.Team)
	}
	return out
}

// status says whether a token still works.
func status(t store.Token) string {
	switch {
	case t.RevokedAt != nil:
		return "revoked"
	case t.ExpiresAt != nil && t.ExpiresAt.Before(time.Now()):
		return "expired"
	default:
		return "active"
	}
}

// expiries are the choices of the token form (Go durations, as the API takes).
var expiries = []struct{ Value, Label string }{
	{"24h", "1 day"}, {"168h", "7 days"}, {"720h", "30 days"}, {"2160h", "90 days"}, {"8760h", "1 year"}, {"", "never"},
}

var roles = []string{string(auth.Viewer), string(auth.Member), string(auth.Admin)}

// memberAction is where a team's member forms post.
func memberAction(team string) templ.SafeURL {
	return templ.SafeURL("/account/teams/" + url.PathEscape(team) + "/members")
}

// githubModel is the team page's GitHub section.
type githubModel struct {
	Team string
	// Shown is false when the server has no GitHub service.
	Shown      bool
	Conn       *wire.GitHubConnection
	Deliveries []wire.GitHubDelivery
}

func githubAction(team, suffix string) templ.SafeURL {
	return templ.SafeURL("/account/teams/" + url.PathEscape(team) + "/github" + suffix)
}

func channelAction(team, suffix string) templ.SafeURL {
	return templ.SafeURL("/account/teams/" + url.PathEscape(team) + "/channels" + suffix)
}

func listOr(l []string, none string) string {
	if len(l) == 0 {
		return none
	}
	return strings.Join(l, ", ")
}
