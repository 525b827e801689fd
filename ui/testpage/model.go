package testpage

import "github.com/pitwall/pitwall/internal/api"

// refresh reloads the page every 2 s until the test has ended.
func refresh(t *api.Test) int {
	if api.Ended(t.State) {
		return 0
	}
	return 2
}

func orDash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}
