package layout

import (
	"context"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"github.com/a-h/templ"

	"github.com/pitwall/pitwall/internal/auth"
	"github.com/pitwall/pitwall/internal/store"
	"github.com/pitwall/pitwall/internal/units"
	"github.com/pitwall/pitwall/ui/httperr"
)

func itoa(n int) string { return strconv.Itoa(n) }

// CommitURL is the page of commit sha in repo when repo is a GitHub
// repository ("owner/name", or https://github.com/owner/name with or
// without .git), else "".
func CommitURL(sha, repo string) string {
	if repo == "" {
		return ""
	}
	r := strings.TrimSuffix(strings.TrimSuffix(strings.TrimSpace(repo), "/"), ".git")
	r = strings.TrimPrefix(strings.TrimPrefix(r, "https://github.com/"), "http://github.com/")
	parts := strings.Split(r, "/")
	if len(parts) != 2 || !repoPart.MatchString(parts[0]) || !repoPart.MatchString(parts[1]) || !shaRE.MatchString(sha) {
		return ""
	}
	return "https://github.com/" + parts[0] + "/" + parts[1] + "/commit/" + sha
}

var (
	repoPart = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,100}$`)
	shaRE    = regexp.MustCompile(`^[0-9a-fA-F]{7,64}$`)
)

// statusTitle is a status code with its text: "404 Not Found".
func statusTitle(status int) string { return itoa(status) + " " + http.StatusText(status) }

// Problem answers with the problem page, inside the layout.
func Problem(w http.ResponseWriter, r *http.Request, status int, msg string) {
	Render(w, r, status, ProblemPage(status, msg))
}

// NotFound is the page of an address no route serves.
func NotFound(w http.ResponseWriter, r *http.Request) {
	Problem(w, r, http.StatusNotFound, "There is no page at "+r.URL.Path+".")
}

// Number formats a value without a unit: three significant digits, k/M/G
// prefixes, never an exponent (units.Format).
func Number(v float64) string { return units.Format(v, "") }

// Value formats a value in its unit, scaled to a readable prefix
// (units.Format): 1200 with "ns" is "1.2 µs".
func Value(v float64, unit string) string { return units.Format(v, unit) }

// csrf is the session's CSRF token for forms ("" for token callers).
func csrf(ctx context.Context) string {
	if p := auth.From(ctx); p != nil {
		return p.CSRF
	}
	return ""
}

// Render writes a page (or a partial) as HTML with the status.
func Render(w http.ResponseWriter, r *http.Request, status int, c templ.Component) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_ = c.Render(r.Context(), w)
}

// CommitPrefix is how many characters of a commit hash pages show.
const CommitPrefix = 12

// ShortSHA shortens a commit to its first CommitPrefix characters.
func ShortSHA(sha string) string {
	if len(sha) > CommitPrefix {
		return sha[:CommitPrefix]
	}
	return sha
}

// Percent formats a signed change in percent (units.Delta): "+51.2%".
func Percent(v float64) string { return units.Delta(v) }

// PValue formats a p-value: three significant digits, and "< 0.001" below
// that (never an exponent).
func PValue(p float64) string {
	if p < 0.001 {
		return "< 0.001"
	}
	return units.Number(p)
}

// Fail answers a service error on the problem page with its status and
// message (a failure that is not a refusal is logged and not described).
func Fail(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error) {
	status, msg := httperr.Explain(log, r, err)
	Problem(w, r, status, msg)
}

// RepoOf is the GitHub repository a test's tags name (the tests GitHub
// runs carry it), else "".
func RepoOf(tags map[string]string) string { return tags[store.TagGitHubRepository] }

// TrendURL is the trends page of a KPI of a framework of team.
func TrendURL(team, framework, kpi string) templ.SafeURL {
	q := url.Values{"framework": {framework}, "team": {team}, "kpi": {kpi}}
	return templ.SafeURL("/trends?" + q.Encode())
}

// CV formats a fraction as a percentage with two decimals (0.0213 is
// "2.13%"), as noise floors show.
func CV(v float64) string { return strconv.FormatFloat(100*v, 'f', 2, 64) + "%" }
