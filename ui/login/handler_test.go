package login

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// Only local paths are accepted as next; everything a browser could turn
// into another site goes home.
func TestSafeNext(t *testing.T) {
	t.Parallel()
	for next, want := range map[string]string{
		"/tests/5":                "/tests/5",
		"/trends?framework=a&k=b": "/trends?framework=a&k=b",
		"":                        "/",
		"tests":                   "/",
		"//evil.example":          "/",
		"/\\evil.example":         "/",
		"/\t/evil.example":        "/",
		"/\n/evil.example":        "/",
		"/\r/evil.example":        "/",
		"\t//evil.example":        "/",
		"https://evil.example/":   "/",
		"javascript:alert(1)":     "/",
		"/%09/evil.example":       "/%09/evil.example", // stays a path: the escape is not undone by browsers
		"/\u0000/evil.example":    "/",
	} {
		require.Equal(t, want, safeNext(next), "%q", next)
	}
}
