package httperr

import (
	"errors"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pitwall/pitwall/service"
)

// Every kind a service returns has its status; anything else is a 500
// whose cause stays in the log.
func TestEveryKindHasItsStatus(t *testing.T) {
	t.Parallel()
	for kind, want := range map[service.Kind]int{
		service.Invalid: 400, service.NotFound: 404, service.Forbidden: 403, service.Conflict: 409,
		service.Ended: 409, service.TooLarge: 413, service.Unavailable: 503, service.Internal: 500,
		service.Unauthenticated: 401,
	} {
		err := &service.Error{Kind: kind, Msg: "why", Field: "f"}
		require.Equal(t, want, Status(err), "kind %d", kind)
		require.Equal(t, want, Status(errors.Join(errors.New("context"), err)), "wrapped kind %d", kind)
	}
	secret := errors.New("connection refused to 10.0.0.5")
	require.Equal(t, http.StatusInternalServerError, Status(secret))
	require.Equal(t, Internal, Message(secret), "internal details are not shown")
	require.Equal(t, "why", Message(service.InvalidField("f", "why")))
	require.Equal(t, "f", Field(service.InvalidField("f", "why")))
}
