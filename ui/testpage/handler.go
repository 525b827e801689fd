package testpage

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/pitwall/pitwall/internal/wire"
	"github.com/pitwall/pitwall/service"
	"github.com/pitwall/pitwall/service/tests"
	"github.com/pitwall/pitwall/ui/layout"
)

// Handler serves /tests/{id} and its live parts. Every route loads the
// test through the tests service, so the page shows exactly what the API
// would show the same principal.
type Handler struct {
	Tests *tests.Service
	Log   *slog.Logger
	// Poll is how often the log stream looks for new lines (default 500 ms).
	Poll time.Duration
}

// id reads the test ID of the path, answering 400 itself.
func id(w http.ResponseWriter, r *http.Request) (int64, bool) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		layout.Problem(w, r, http.StatusBadRequest, fmt.Sprintf("%q is not a test ID: test IDs are positive numbers", r.PathValue("id")))
		return 0, false
	}
	return id, true
}

// load reads the test named by the path, answering failures itself.
func (h Handler) load(w http.ResponseWriter, r *http.Request) (*wire.Test, bool) {
	id, ok := id(w, r)
	if !ok {
		return nil, false
	}
	t, err := h.Tests.View(r.Context(), id)
	if err != nil {
		h.fail(w, r, err)
		return nil, false
	}
	return t, true
}

// fail answers a service error with its status and message on the
// problem page.
func (h Handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	layout.Fail(w, r, h.Log, err)
}

// Page is GET /tests/{id}: the whole page.
func (h Handler) Page(w http.ResponseWriter, r *http.Request) {
	id, ok := id(w, r)
	if !ok {
		return
	}
	d, err := h.Tests.Details(r.Context(), id, tailLines, tableRows)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	p := page{T: d.Test, Tail: d.Tail, Artifacts: d.Artifacts, Tables: d.Tables, Queries: d.Queries,
		CanModify: tests.MayModify(r.Context(), d.Test), Baselines: d.Baselines}
	if p.Flames, err = h.Tests.FlameGraphs(r.Context(), id); err != nil {
		h.Log.Error("flame graphs", "test", id, "error", err)
	}
	p.Live = h.progress(r, d.Test)
	layout.Render(w, r, http.StatusOK, view(p))
}

// Live is GET /tests/{id}/live: the header, and the facts and timeline
// out of band, which htmx swaps in every 2 s while the test runs. Once it
// has ended the whole page reloads, once, to show the results.
func (h Handler) Live(w http.ResponseWriter, r *http.Request) {
	t, ok := h.load(w, r)
	if !ok {
		return
	}
	if wire.Ended(t.State) && r.Header.Get("HX-Request") == "true" {
		w.Header().Set("HX-Refresh", "true")
	}
	layout.Render(w, r, http.StatusOK, livePart(page{T: t, CanModify: tests.MayModify(r.Context(), t), Live: h.progress(r, t)}))
}

// progress is how far a running test is; nil once it has ended, or when
// it cannot be told (logged).
func (h Handler) progress(r *http.Request, t *wire.Test) *tests.Live {
	if wire.Ended(t.State) {
		return nil
	}
	l, err := h.Tests.Progress(r.Context(), t)
	if err != nil {
		h.Log.Error("test progress", "test", t.ID, "error", err)
		return nil
	}
	return l
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
	for {
		// Logs reads the state before the lines: a test that had ended
		// before this read has shipped every line it will.
		pg, err := h.Tests.Logs(ctx, tests.LogsInput{ID: t.ID, After: after, Limit: batch})
		if err != nil {
			if ctx.Err() == nil {
				h.Log.Error("log stream", "test", t.ID, "error", err)
			}
			return
		}
		for _, l := range pg.Lines {
			data, _ := json.Marshal(l)
			_, _ = fmt.Fprintf(w, "id: %d\ndata: %s\n\n", l.ID, data)
			after = l.ID
		}
		if len(pg.Lines) > 0 {
			if err := rc.Flush(); err != nil {
				return
			}
		}
		if len(pg.Lines) == batch {
			continue
		}
		if pg.Ended {
			_, _ = fmt.Fprintf(w, "event: end\ndata: %s\n\n", pg.State)
			_ = rc.Flush()
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(poll):
		}
	}
}

// LogText is GET /tests/{id}/log.txt: the whole output as plain text.
func (h Handler) LogText(w http.ResponseWriter, r *http.Request) {
	t, ok := h.load(w, r)
	if !ok {
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	const batch = 5000
	var after int64
	for {
		pg, err := h.Tests.Logs(r.Context(), tests.LogsInput{ID: t.ID, After: after, Limit: batch})
		if err != nil {
			h.Log.Error("log text", "test", t.ID, "error", err)
			return
		}
		for _, l := range pg.Lines {
			_, _ = fmt.Fprintf(w, "%s %s %s\n", l.TS.UTC().Format("15:04:05.000"), l.Stream, l.Line)
			after = l.ID
		}
		if len(pg.Lines) < batch {
			return
		}
	}
}

// Abort is POST /tests/{id}/abort (a form with an optional reason): it
// aborts through the tests service and goes back to the page; a test that
// has already ended shows how it ended.
func (h Handler) Abort(w http.ResponseWriter, r *http.Request) {
	id, ok := id(w, r)
	if !ok {
		return
	}
	_, err := h.Tests.Abort(r.Context(), tests.AbortInput{ID: id, Reason: r.PostFormValue("reason")})
	if err != nil && service.KindOf(err) != service.Ended {
		h.fail(w, r, err)
		return
	}
	http.Redirect(w, r, tests.PagePath(id), http.StatusSeeOther)
}
