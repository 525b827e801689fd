package layout

import (
	"context"
	"io"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Time, Minute, Ago, When, Verdict and State write what time.Format and
// templ wrote before them:
// the same text for times across four centuries, every span and both
// sides of now.
func TestWhenFormatsAsTimeFormat(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	now := time.Date(2026, 11, 29, 7, 30, 0, 0, time.UTC)
	for range 2000 {
		const year = 365 * 24 * 3600
		at := time.Unix(rng.Int64N(400*year)-200*year, rng.Int64N(1e9))
		require.Equal(t, at.Local().Format("2006-01-02 15:04:05 MST"), Time(at))
		require.Equal(t, at.Local().Format("2006-01-02"), string(appendDate(nil, at.Local())))
		require.Equal(t, at.Local().Format("2006-01-02 15:04"), Minute(at))
	}
	for _, c := range []struct {
		d    time.Duration
		want string
	}{
		{-90 * time.Second, "in 1 min"}, {-3 * time.Hour, "in 3 h"}, {0, "just now"}, {4 * time.Second, "just now"},
		{42 * time.Second, "42 s ago"}, {3*time.Minute + 59*time.Second, "3 min ago"}, {5 * time.Hour, "5 h ago"},
		{47 * time.Hour, "47 h ago"}, {49 * time.Hour, "2 days ago"}, {29 * 24 * time.Hour, "29 days ago"},
		{31 * 24 * time.Hour, now.Add(-31 * 24 * time.Hour).Local().Format("2006-01-02")},
	} {
		require.Equal(t, c.want, Ago(now.Add(-c.d), now), c.d)
	}
	at := time.Date(1999, 12, 31, 23, 59, 58, 0, time.FixedZone("X", 3600))
	var b strings.Builder
	require.NoError(t, When(at).Render(context.Background(), &b))
	require.Equal(t, `<time class="when" datetime="1999-12-31T22:59:58Z" title="`+at.Local().Format("2006-01-02 15:04:05 MST")+`">`+
		at.Local().Format("2006-01-02")+`</time>`, b.String())
	b.Reset()
	require.NoError(t, Verdict(`regressed`).Render(context.Background(), &b))
	require.NoError(t, Verdict(``).Render(context.Background(), &b))
	require.NoError(t, Verdict(`<b>`).Render(context.Background(), &b))
	require.Equal(t, `<span class="badge verdict-regressed" title="verdict">regressed</span>`+
		`<span class="badge verdict-&lt;b&gt;" title="verdict">&lt;b&gt;</span>`, b.String())
	b.Reset()
	require.NoError(t, State(`running`).Render(context.Background(), &b))
	require.Equal(t, `<span class="state state-running">running</span>`, b.String())
}

// BenchmarkWhen is the cost of one time in a listing's row.
func BenchmarkWhen(b *testing.B) {
	t := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		_ = When(t).Render(ctx, io.Discard)
	}
}
