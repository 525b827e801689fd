package frameworks

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/pitwall/pitwall/internal/wire"
)

// apiError is the API's refusal of a request: its status, message and the
// field it names (a framework file key, a run request field).
type apiError struct {
	Status int
	Msg    string
	Field  string
}

// call runs one API request in-process, as the page's principal: the pages
// take exactly the API's code path (validation, authorisation, versioning,
// audit) instead of a second copy of it. The request's context carries the
// principal the authentication middleware found; CSRF was checked on the
// page's own request.
func (h *Handler) call(r *http.Request, method, path, contentType string, body []byte, out any) *apiError {
	req := httptest.NewRequestWithContext(r.Context(), method, path, bytes.NewReader(body))
	req.RemoteAddr = r.RemoteAddr
	if xff := r.Header.Get("X-Forwarded-For"); xff != "" {
		req.Header.Set("X-Forwarded-For", xff) // the audit log's remote address
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	rec := httptest.NewRecorder()
	h.api.ServeHTTP(rec, req)
	if rec.Code >= 300 {
		var we wire.Error
		if err := json.Unmarshal(rec.Body.Bytes(), &we); err != nil || we.Error == "" {
			we.Error = fmt.Sprintf("%s %s: status %d", method, path, rec.Code)
		}
		return &apiError{Status: rec.Code, Msg: we.Error, Field: we.Field}
	}
	if out != nil {
		if err := json.Unmarshal(rec.Body.Bytes(), out); err != nil {
			return &apiError{Status: http.StatusInternalServerError, Msg: "decode API answer: " + err.Error()}
		}
	}
	return nil
}
