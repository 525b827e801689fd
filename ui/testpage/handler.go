package testpage

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/pitwall/pitwall/internal/auth"
	"github.com/pitwall/pitwall/internal/store"
	"github.com/pitwall/pitwall/internal/wire"
	uiapi "github.com/pitwall/pitwall/ui/api"
	"github.com/pitwall/pitwall/ui/layout"
)

// Handler serves /tests/{id} and its live parts. Every route loads the
// test through the API's ViewTest, so the page shows exactly what the API
// would show the same principal.
type Handler struct {
	API *uiapi.API
	Log *slog.Logger
	// Poll is how often the log stream looks for new lines (default 500 ms).
	Poll time.Duration
}

// load reads the test named by the path, answering 400/404/500 itself.
func (h Handler) load(w http.ResponseWriter, r *http.Request) (*wire.Test, bool) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		http.Error(w, "test IDs are positive numbers", http.StatusBadRequest)
		return nil, false
	}
	t, err := h.API.ViewTest(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		http.Error(w, "test not found", http.StatusNotFound)
		return nil, false
	}
	if err != nil {
		h.fail(w, r, id, err)
		return nil, false
	}
	return t, true
}

func (h Handler) fail(w http.ResponseWriter, r *http.Request, id int64, err error) {
	h.Log.Error("test page", "test", id, "path", r.URL.Path, "error", err)
	http.Error(w, "could not load the test", http.StatusInternalServerError)
}

// Page is GET /tests/{id}: the whole page.
func (h Handler) Page(w http.ResponseWriter, r *http.Request) {
	t, ok := h.load(w, r)
	if !ok {
		return
	}
	ctx := r.Context()
	p := page{T: t, CanModify: auth.From(ctx).CanModify(t.Team, t.Owner)}
	var err error
	if p.Tail, err = h.API.Store.LogTail(ctx, t.ID, tailLines); err != nil {
		h.fail(w, r, t.ID, err)
		return
	}
	if p.Artifacts, err = h.API.Store.ArtifactList(ctx, t.ID); err != nil {
		h.fail(w, r, t.ID, err)
		return
	}
	if p.Tables, err = h.API.Store.TableList(ctx, t.ID); err != nil {
		h.fail(w, r, t.ID, err)
		return
	}
	layout.Render(w, r, http.StatusOK, view(p))
}

// Live is GET /tests/{id}/live: the header and timeline, which htmx
// swaps in every 2 s while the test runs. Once it has ended the whole
// page reloads, once, to show the results.
func (h Handler) Live(w http.ResponseWriter, r *http.Request) {
	t, ok := h.load(w, r)
	if !ok {
		return
	}
	if wire.Ended(t.State) && r.Header.Get("HX-Request") == "true" {
		w.Header().Set("HX-Refresh", "true")
	}
	layout.Render(w, r, http.StatusOK, live(page{T: t, CanModify: auth.From(r.Context()).CanModify(t.Team, t.Owner)}))
}

// LogStream is GET /tests/{id}/logs/stream?after=<cursor>: server-sent
// events, one per log line (id: the line's cursor, data: the line as the
// API's JSON), as they are ingested; an "end" event once the test has
// ended and every line is sent. A reconnecting EventSource resumes from
// Last-Event-ID.
func (h Handler) LogStream(w http.ResponseWriter, r *http.Request) {
	t, ok := h.load(w, r)
	if !ok {
		return
	}
	cursor := r.Header.Get("Last-Event-ID")
	if cursor == "" {
		cursor = r.URL.Query().Get("after")
	}
	after, err := strconv.ParseInt(cursor, 10, 64)
	if cursor != "" && (err != nil || after < 0) {
		http.Error(w, "after must be a log cursor", http.StatusBadRequest)
		return
	}
	poll := h.Poll
	if poll <= 0 {
		poll = 500 * time.Millisecond
	}
	ctx := r.Context()
	rc := http.NewResponseController(w)
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	_, _ = fmt.Fprint(w, "retry: 2000\n\n")
	_ = rc.Flush()
	const batch = 1000
	state := t.State
	for {
		// The state is read before the lines: a test that had ended
		// before this read has shipped every line it will.
		ended := wire.Ended(state)
		lines, err := h.API.Store.LogList(ctx, t.ID, after, batch)
		if err != nil {
			if ctx.Err() == nil {
				h.Log.Error("log stream", "test", t.ID, "error", err)
			}
			return
		}
		for _, l := range lines {
			data, _ := json.Marshal(l)
			_, _ = fmt.Fprintf(w, "id: %d\ndata: %s\n\n", l.ID, data)
			after = l.ID
		}
		if len(lines) > 0 {
			if err := rc.Flush(); err != nil {
				return
			}
		}
		if len(lines) == batch {
			continue
		}
		if ended {
			_, _ = fmt.Fprintf(w, "event: end\ndata: %s\n\n", state)
			_ = rc.Flush()
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(poll):
		}
		cur, err := h.API.Store.TestGet(ctx, t.ID)
		if err != nil {
			if ctx.Err() == nil {
				h.Log.Error("log stream", "test", t.ID, "error", err)
			}
			return
		}
		state = cur.State
	}
}

// LogText is GET /tests/{id}/log.txt: the whole output as plain text.
func (h Handler) LogText(w http.ResponseWriter, r *http.Request) {
	t, ok := h.load(w, r)
	if !ok {
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	var after int64
	for {
		lines, err := h.API.Store.LogList(r.Context(), t.ID, after, 5000)
		if err != nil {
			h.Log.Error("log text", "test", t.ID, "error", err)
			return
		}
		for _, l := range lines {
			_, _ = fmt.Fprintf(w, "%s %s %s\n", l.TS.UTC().Format("15:04:05.000"), l.Stream, l.Line)
			after = l.ID
		}
		if len(lines) < 5000 {
			return
		}
	}
}

// Abort is POST /tests/{id}/abort (a form with an optional reason): it
// aborts through the same path as the API and goes back to the page.
func (h Handler) Abort(w http.ResponseWriter, r *http.Request) {
	t, ok := h.load(w, r)
	if !ok {
		return
	}
	reason := r.PostFormValue("reason")
	if len(reason) > 500 {
		http.Error(w, "the reason must be at most 500 bytes", http.StatusBadRequest)
		return
	}
	switch err := h.API.Abort(r, t, reason); {
	case errors.Is(err, uiapi.ErrNotAllowed):
		http.Error(w, err.Error(), http.StatusForbidden)
		return
	case errors.Is(err, uiapi.ErrEnded):
		// Nothing to do: the page shows how it ended.
	case err != nil:
		http.Error(w, err.Error(), http.StatusServiceUnavailable)
		return
	}
	http.Redirect(w, r, testURL(t.ID), http.StatusSeeOther)
}
