package githubtest

import (
	"encoding/json"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Failure is an answer the server gives instead of the operation's own,
// such as GitHub's rate-limit answers, so a test can check that its
// client waits and retries.
type Failure struct {
	Status int
	Header http.Header
	Body   []byte
}

// failure is a Failure still to be answered n times to requests matching
// method and pattern.
type failure struct {
	Failure
	method, pattern string
	n               int
}

// FailNext makes the next n valid requests matching method and pattern get
// f instead of their answer. An empty method matches any; pattern is an
// operation's path as GitHub's description writes it
// ("/repos/{owner}/{repo}/statuses/{sha}"), a request's own path, or empty
// for any. Failures set earlier are answered first.
func (s *Server) FailNext(method, pattern string, n int, f Failure) {
	if n < 1 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failures = append(s.failures, &failure{Failure: f, method: method, pattern: pattern, n: n})
}

// takeFailure returns the first failure due for a request to route
// (the description's path) and path, counting it answered. The caller
// holds s.mu.
func (s *Server) takeFailure(method, route, path string) *failure {
	for i, f := range s.failures {
		if f.method != "" && !strings.EqualFold(f.method, method) {
			continue
		}
		if f.pattern != "" && f.pattern != route && f.pattern != path {
			continue
		}
		f.n--
		if f.n <= 0 {
			s.failures = append(s.failures[:i:i], s.failures[i+1:]...)
		}
		return f
	}
	return nil
}

// SecondaryRateLimit is GitHub's answer to a client that sent too much too
// fast: 403, Retry-After in whole seconds, and a message saying so. The
// primary budget is not spent, so X-RateLimit-Remaining is not 0
// (go-github reads this answer as an *AbuseRateLimitError).
func SecondaryRateLimit(retryAfter time.Duration) Failure {
	h := http.Header{}
	h.Set("Retry-After", strconv.Itoa(int(math.Ceil(retryAfter.Seconds()))))
	return Failure{
		Status: http.StatusForbidden,
		Header: h,
		Body: rateLimitBody("You have exceeded a secondary rate limit. Please wait a few minutes before you try again. "+
			"If you reach out to GitHub Support for help, please include the request ID 0000:0000:000000.",
			"https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits"),
	}
}

// PrimaryRateLimit is GitHub's answer once the hourly budget is spent:
// 403, X-RateLimit-Remaining 0 and X-RateLimit-Reset at reset, in UTC epoch
// seconds (go-github reads this answer as a *RateLimitError).
func PrimaryRateLimit(reset time.Time) Failure {
	h := http.Header{}
	h.Set("X-RateLimit-Limit", strconv.Itoa(rateLimit))
	h.Set("X-RateLimit-Remaining", "0")
	h.Set("X-RateLimit-Used", strconv.Itoa(rateLimit))
	h.Set("X-RateLimit-Reset", strconv.FormatInt(reset.Unix(), 10))
	h.Set("X-RateLimit-Resource", "core")
	return Failure{
		Status: http.StatusForbidden,
		Header: h,
		Body: rateLimitBody("API rate limit exceeded for installation ID 1. "+
			"If you reach out to GitHub Support for help, please include the request ID 0000:0000:000000.",
			"https://docs.github.com/rest/overview/rate-limits-for-the-rest-api"),
	}
}

func rateLimitBody(message, docs string) []byte {
	b, _ := json.Marshal(map[string]string{"message": message, "documentation_url": docs, "status": "403"})
	return b
}
