package testpage

import "github.com/pitwall/pitwall/internal/wire"

// band is a shaded span on every chart: when an interference generator
// loaded a host (from its timeline stages).
type band struct {
	From  float64 `json:"from"`
	To    float64 `json:"to"`
	Label string  `json:"label"`
	Kind  string  `json:"kind"`
}

func interferenceBands(timeline []wire.Stage) []band {
	out := []band{}
	for _, b := range wire.InterferenceBands(timeline) {
		out = append(out, band{From: float64(b.From.At.UnixMilli()) / 1000, To: float64(b.To.At.UnixMilli()) / 1000,
			Label: "interference " + b.Kind, Kind: b.Kind})
	}
	return out
}
