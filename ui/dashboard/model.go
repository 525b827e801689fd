package dashboard

import "github.com/pitwall/pitwall/internal/api"

type model struct {
	Tests  []api.Test
	Agents []api.Agent
}

func short(sha string) string {
	if len(sha) > 10 {
		return sha[:10]
	}
	return sha
}
