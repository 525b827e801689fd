package account

import (
	"net/http"
	"strings"

	"github.com/pitwall/pitwall/internal/wire"
)

// channelsModel is the team page's notification channels section.
type channelsModel struct {
	Team string
	// Shown is false when the server has no alerts service.
	Shown bool
	List  []wire.NotifyChannel
}

// channelPut adds or replaces a team's notification channel from the team
// page's form (its admins; the service decides).
func (h Handler) channelPut(w http.ResponseWriter, r *http.Request) {
	team := r.PathValue("team")
	if err := r.ParseForm(); err != nil {
		h.teamWith(w, r, http.StatusBadRequest, "the form could not be read")
		return
	}
	c := wire.NotifyChannel{Name: strings.TrimSpace(r.PostFormValue("name")), Kind: r.PostFormValue("kind"),
		Target: strings.TrimSpace(r.PostFormValue("target")), Secret: r.PostFormValue("secret"),
		Events: r.PostForm["events"], MinSeverity: r.PostFormValue("min_severity"), Frameworks: splitList(r.PostFormValue("frameworks"))}
	_, err := h.Alerts.ChannelPut(r.Context(), team, c)
	h.afterChange(w, r, team, err)
}

func (h Handler) channelDelete(w http.ResponseWriter, r *http.Request) {
	team := r.PathValue("team")
	h.afterChange(w, r, team, h.Alerts.ChannelDelete(r.Context(), team, r.PathValue("name")))
}

// emailSet sets the signed-in user's address for mail about their tests.
func (h Handler) emailSet(w http.ResponseWriter, r *http.Request) {
	err := h.Alerts.SetEmail(r.Context(), strings.TrimSpace(r.PostFormValue("email")))
	if h.refused(w, r, err, h.showWith) {
		return
	}
	http.Redirect(w, r, "/account?email=set", http.StatusSeeOther)
}

// splitList splits a comma- or space-separated list, dropping blanks.
func splitList(s string) []string {
	out := []string{}
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\n' || r == '\t' }) {
		out = append(out, f)
	}
	return out
}
