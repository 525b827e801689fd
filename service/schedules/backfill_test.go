package schedules

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/api/enums/v1"

	"github.com/pitwall/pitwall/service"
)

func TestCheckBackfill(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	overlap := ""
	policy, err := CheckBackfill(now.Add(-3*time.Minute), now, &overlap, now)
	require.NoError(t, err)
	require.Equal(t, "buffer_all", overlap, "every past run happens, one after another")
	require.Equal(t, enums.SCHEDULE_OVERLAP_POLICY_BUFFER_ALL, policy)

	overlap = "allow_all"
	policy, err = CheckBackfill(now.Add(-MaxBackfillSpan), now, &overlap, now)
	require.NoError(t, err)
	require.Equal(t, enums.SCHEDULE_OVERLAP_POLICY_ALLOW_ALL, policy)

	for _, c := range []struct {
		name           string
		start, end     time.Time
		overlap, field string
	}{
		{"no start", time.Time{}, now, "", "start"},
		{"no end", now.Add(-time.Hour), time.Time{}, "", "end"},
		{"start after end", now.Add(-time.Hour), now.Add(-2 * time.Hour), "", "end"},
		{"start at end", now.Add(-time.Hour), now.Add(-time.Hour), "", "end"},
		{"end in the future", now.Add(-time.Hour), now.Add(time.Second), "", "end"},
		{"longer than 31 days", now.Add(-MaxBackfillSpan - time.Second), now, "", "start"},
		{"unknown overlap", now.Add(-time.Hour), now, "sometimes", "overlap"},
	} {
		overlap := c.overlap
		_, err := CheckBackfill(c.start, c.end, &overlap, now)
		require.Error(t, err, c.name)
		e := service.As(err)
		require.NotNil(t, e, c.name)
		require.Equal(t, service.Invalid, e.Kind, c.name)
		require.Equal(t, c.field, e.Field, "%s: %s", c.name, e.Msg)
	}
}
