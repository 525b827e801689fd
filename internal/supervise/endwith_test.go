package supervise

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// A run with EndWith ends (within about a second) once the run it names
// is over, with no agent asking; one whose companion runs on is left alone.
func TestEndWithEndsACompanion(t *testing.T) {
	t.Parallel()
	main := start(t, "sleep 30", nil)
	companion := start(t, "sleep 30", func(s *Spec) { s.EndWith = main.Dir })
	time.Sleep(1500 * time.Millisecond)
	require.True(t, companion.Alive(), "its run still runs")

	require.NoError(t, main.Stop())
	wait(t, main)
	began := time.Now()
	st := wait(t, companion)
	require.True(t, st.Stopped)
	require.True(t, st.EndedWith)
	require.Less(t, time.Since(began), 3*time.Second)
}
