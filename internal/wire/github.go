package wire

import "time"

// GitHubConnectionRequest is the body of PUT /api/v1/teams/{team}/github:
// a token or a GitHub App's installation, and the webhook secret. None of
// them is ever shown again.
type GitHubConnectionRequest struct {
	// APIURL is GitHub's REST API (default https://api.github.com/; GitHub
	// Enterprise Server: https://HOST/api/v3/).
	APIURL        string                `json:"api_url,omitempty"`
	Token         string                `json:"token,omitempty"`
	App           *GitHubAppCredentials `json:"app,omitempty"`
	WebhookSecret string                `json:"webhook_secret"`
}

// GitHubAppCredentials authenticate as a GitHub App's installation.
type GitHubAppCredentials struct {
	AppID          int64  `json:"app_id"`
	InstallationID int64  `json:"installation_id"`
	PrivateKey     string `json:"private_key"` // PEM
}

// GitHubConnection is what the API shows of a team's connection: never
// its secrets.
type GitHubConnection struct {
	Team           string `json:"team"`
	APIURL         string `json:"api_url"`
	Auth           string `json:"auth"` // token or app
	AppID          int64  `json:"app_id,omitempty"`
	InstallationID int64  `json:"installation_id,omitempty"`
	// WebhookURL is where GitHub sends the repository's events.
	WebhookURL string    `json:"webhook_url"`
	CreatedBy  string    `json:"created_by"`
	CreatedAt  time.Time `json:"created_at"`
	UpdatedAt  time.Time `json:"updated_at"`
	// Repositories are the team's frameworks that name a repository.
	Repositories []GitHubMapping `json:"repositories"`
}

// GitHubMapping is one framework's github section.
type GitHubMapping struct {
	Repository string   `json:"repository"`
	Framework  string   `json:"framework"`
	On         []string `json:"on"`
	Branches   []string `json:"branches"`
}

// GitHubDelivery is one webhook delivery that passed its signature, and
// what came of it.
type GitHubDelivery struct {
	Delivery   string    `json:"delivery"`
	Team       string    `json:"team"`
	Event      string    `json:"event"`
	Action     string    `json:"action,omitempty"`
	Repository string    `json:"repository,omitempty"`
	ReceivedAt time.Time `json:"received_at"`
	// Outcome is received, ignored, started or failed; Detail says more.
	Outcome string `json:"outcome"`
	Detail  string `json:"detail,omitempty"`
}
