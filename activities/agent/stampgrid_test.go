package agent

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestStampGrid(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 11, 27, 8, 0, 0, 123_456_789, time.UTC)
	g := stampGrid{every: time.Second}
	first := g.stamp(t0)
	require.Equal(t, t0.Truncate(time.Millisecond).UnixMilli(), first)
	// On time, a little early or late: stamped on the grid.
	require.Equal(t, first+1000, g.stamp(t0.Add(time.Second+3*time.Millisecond)))
	require.Equal(t, first+2000, g.stamp(t0.Add(2*time.Second-7*time.Millisecond)))
	// Late by more than a twentieth of the interval: its own time.
	late := t0.Add(3*time.Second + 300*time.Millisecond)
	require.Equal(t, late.UnixMilli(), g.stamp(late))
	// A stop between ticks keeps its own time too.
	require.Equal(t, t0.Add(3500*time.Millisecond).UnixMilli(), g.stamp(t0.Add(3500*time.Millisecond)))
	// A stop just after a tick does not repeat the tick's stamp.
	g4 := g.stamp(t0.Add(4 * time.Second))
	require.Equal(t, first+4000, g4)
	stop := t0.Add(4*time.Second + 20*time.Millisecond)
	require.Equal(t, stop.UnixMilli(), g.stamp(stop), "its own time, after the tick's")
	require.Equal(t, stop.UnixMilli()+1, g.stamp(stop), "never the same stamp twice")
	require.Equal(t, first+10_000, g.stamp(t0.Add(10*time.Second+40*time.Millisecond)))

	odd := stampGrid{every: 333_333 * time.Microsecond} // not whole milliseconds
	o0 := odd.stamp(t0)
	at := t0.Add(333_333 * time.Microsecond)
	require.Equal(t, at.UnixMilli(), odd.stamp(at), "a grid point off the millisecond keeps the sample's own time")
	require.Equal(t, t0.Truncate(time.Millisecond).UnixMilli(), o0)
}

func TestNextPollBacksOffWhileQuiet(t *testing.T) {
	t.Parallel()
	var waits []time.Duration
	w := logPoll
	for _, read := range []bool{false, false, false, false, false, true, false} {
		w = nextPoll(w, read)
		waits = append(waits, w)
	}
	require.Equal(t, []time.Duration{300 * time.Millisecond, 600 * time.Millisecond, time.Second, time.Second, time.Second,
		logPoll, 300 * time.Millisecond}, waits)
}

// The monitor's first sample is taken at its start, the rest on the
// agent's pulse: the grid moves to the pulse's phase.
func TestStampGridAnchor(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 11, 27, 8, 0, 0, 123_456_789, time.UTC)
	g := stampGrid{every: time.Second}
	first := g.stamp(t0)
	pulse := t0.Add(1700 * time.Millisecond)
	g.anchor(pulse)
	p0 := g.stamp(pulse)
	require.Equal(t, pulse.Truncate(time.Millisecond).UnixMilli(), p0)
	require.Greater(t, p0, first)
	require.Equal(t, p0+1000, g.stamp(pulse.Add(time.Second+2*time.Millisecond)), "on the pulse's grid")
	require.Equal(t, p0+2000, g.stamp(pulse.Add(2*time.Second-4*time.Millisecond)))
}

// Every listener of the pulse gets each beat, and a pulse nobody listens
// to any more starts again for a new listener.
func TestPulseWakesListenersTogether(t *testing.T) {
	t.Parallel()
	var p pulse
	a, stopA := p.listen()
	b, stopB := p.listen()
	for _, c := range []<-chan struct{}{a, b} {
		select {
		case <-c:
		case <-time.After(3 * pulseEvery):
			t.Fatal("no beat")
		}
	}
	stopA()
	stopB()
	stopB() // twice is harmless
	c, stopC := p.listen()
	defer stopC()
	select {
	case <-c:
	case <-time.After(3 * pulseEvery):
		t.Fatal("no beat after the pulse started again")
	}
}
