package testpage

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/pitwall/pitwall/internal/api"
	"github.com/pitwall/pitwall/internal/store"
)

// Handler serves /tests/{id}.
type Handler struct {
	// Load returns a test as the API shows it.
	Load func(ctx context.Context, id int64) (*api.Test, error)
	Log  *slog.Logger
}

func (h Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		http.Error(w, "test IDs are positive numbers", http.StatusBadRequest)
		return
	}
	t, err := h.Load(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		http.Error(w, "test not found", http.StatusNotFound)
		return
	}
	if err != nil {
		h.Log.Error("test page", "test", id, "error", err)
		http.Error(w, "could not load the test", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_ = view(t).Render(r.Context(), w)
}
