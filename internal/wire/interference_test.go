package wire

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Began and stopped stages pair up per kind, in order; an open one is no band.
func TestInterferenceBands(t *testing.T) {
	t.Parallel()
	t0 := time.Unix(1000, 0)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	tl := []Stage{
		{Stage: "script started", At: at(0), Kind: "stage"},
		{Stage: "interference cpu began", At: at(1), Kind: "stage"},
		{Stage: "interference io began", At: at(2), Kind: "stage"},
		{Stage: "interference cpu stopped", At: at(5), Kind: "stage"},
		{Stage: "interference io stopped", At: at(6), Kind: "stage"},
		{Stage: "interference cpu began", At: at(8), Kind: "stage"},
		{Stage: "interference cpu began", At: at(9), Kind: "state"},
	}
	got := InterferenceBands(tl)
	require.Len(t, got, 2)
	require.Equal(t, "cpu", got[0].Kind)
	require.Equal(t, at(1), got[0].From.At)
	require.Equal(t, at(5), got[0].To.At)
	require.Equal(t, "io", got[1].Kind)
	require.Equal(t, at(6), got[1].To.At)
}
