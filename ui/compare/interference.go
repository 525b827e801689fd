package compare

import (
	"fmt"

	"github.com/pitwall/pitwall/internal/wire"
)

// chartBand is when an interference generator of a test ran, in seconds
// since that test's script started, as the overlaid charts' x.
type chartBand struct {
	From  float64 `json:"from"`
	To    float64 `json:"to"`
	Label string  `json:"label"`
	Kind  string  `json:"kind"`
}

// interferenceBands are a test's bands relative to startMS; none when the
// script's start is unknown.
func interferenceBands(t wire.Test, startMS int64) []chartBand {
	out := []chartBand{}
	if startMS == 0 {
		return out
	}
	for _, b := range wire.InterferenceBands(t.Timeline) {
		out = append(out, chartBand{From: float64(b.From.At.UnixMilli()-startMS) / 1000, To: float64(b.To.At.UnixMilli()-startMS) / 1000,
			Label: fmt.Sprintf("#%d %s", t.ID, b.Kind), Kind: b.Kind})
	}
	return out
}
