package wire

import (
	"math"
	"slices"
)

// Summarize sums up each KPI over its iterations, in the order the KPIs
// first appear: count, mean, median, min, max and sample standard deviation.
func Summarize(kpis []KPI) []KPISummary {
	var order []string
	values := map[string][]float64{}
	units := map[string]string{}
	for _, k := range kpis {
		if _, ok := values[k.Name]; !ok {
			order = append(order, k.Name)
			units[k.Name] = k.Unit
		}
		values[k.Name] = append(values[k.Name], k.Value)
	}
	out := make([]KPISummary, 0, len(order))
	for _, name := range order {
		v := slices.Clone(values[name])
		slices.Sort(v)
		s := KPISummary{Name: name, Unit: units[name], Count: len(v), Min: v[0], Max: v[len(v)-1]}
		var sum float64
		for _, x := range v {
			sum += x
		}
		s.Mean = sum / float64(len(v))
		if len(v)%2 == 1 {
			s.Median = v[len(v)/2]
		} else {
			s.Median = (v[len(v)/2-1] + v[len(v)/2]) / 2
		}
		if len(v) > 1 {
			var ss float64
			for _, x := range v {
				ss += (x - s.Mean) * (x - s.Mean)
			}
			s.Stddev = math.Sqrt(ss / float64(len(v)-1))
		}
		out = append(out, s)
	}
	return out
}
