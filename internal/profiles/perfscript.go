// Package profiles turns what profilers write (perf script, perf stat,
// strace -c, Go's pprof) into pprof profiles and KPIs, and draws flame
// graphs and differential flame graphs of the profiles.
//
// Everything it reads comes from profiled processes a user controls (their
// names, their symbols), so every text is bounded and every name it draws
// is escaped.
package profiles

import (
	"bufio"
	"fmt"
	"io"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"github.com/google/pprof/profile"
)

// Bounds on what a perf script conversion keeps: a hostile process can
// have very deep stacks and very long symbols.
const (
	maxStackDepth = 512
	maxSymbol     = 512
	maxLine       = 1 << 20
)

// header is a sample's first line in perf script's default output:
// "comm  pid[/tid] [cpu] time: period event:", where comm may hold spaces.
var header = regexp.MustCompile(`^(.*?)\s+(\d+)(?:/(\d+))?\s+(?:\[\d+\]\s+)?\d+\.\d+:\s+(?:(\d+)\s+)?([^\s:]+(?::[a-zA-Z]+)?):?`)

// FromPerfScript converts the output of `perf script` (the default fields,
// with call graphs from `perf record -g`) to a pprof profile with two
// sample types: samples/count and the event's period (cpu/nanoseconds for
// the clock events). Each sample is labelled with its command and PID.
// Lines it cannot read are skipped and counted in skipped.
func FromPerfScript(r io.Reader) (p *profile.Profile, skipped int, err error) {
	c := newConverter()
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), maxLine)
	var cur *perfSample
	flush := func() {
		if cur != nil {
			c.add(cur)
			cur = nil
		}
	}
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.TrimSpace(line) == "":
			flush()
		case line[0] == ' ' || line[0] == '\t':
			if cur == nil {
				skipped++
				continue
			}
			if len(cur.frames) < maxStackDepth {
				if fr, ok := parseFrame(line); ok {
					cur.frames = append(cur.frames, fr)
				} else {
					skipped++
				}
			}
		default:
			flush()
			m := header.FindStringSubmatch(line)
			if m == nil {
				skipped++
				continue
			}
			pid, _ := strconv.ParseInt(m[2], 10, 64)
			period, _ := strconv.ParseInt(m[4], 10, 64)
			if period <= 0 {
				period = 1
			}
			cur = &perfSample{comm: clip(strings.TrimSpace(m[1])), pid: pid, period: period, event: m[5]}
		}
	}
	flush()
	if err := sc.Err(); err != nil {
		return nil, skipped, fmt.Errorf("read perf script output: %w", err)
	}
	return c.profile(), skipped, nil
}

// perfSample is one sample of perf script's output.
type perfSample struct {
	comm   string
	pid    int64
	period int64
	event  string
	// frames are leaf first, as perf prints them.
	frames []frame
}

// frame is one line of a call graph: the symbol and the object it is in.
type frame struct {
	addr uint64
	sym  string
	dso  string
}

// parseFrame reads "addr sym+off (dso)"; sym may hold parentheses and
// spaces (Go methods, C++), so the object is the last parenthesised group.
func parseFrame(line string) (frame, bool) {
	s := strings.TrimSpace(line)
	addr, rest, ok := strings.Cut(s, " ")
	if !ok {
		return frame{}, false
	}
	a, err := strconv.ParseUint(addr, 16, 64)
	if err != nil {
		return frame{}, false
	}
	rest = strings.TrimSpace(rest)
	sym, dso := rest, ""
	if strings.HasSuffix(rest, ")") {
		if i := strings.LastIndex(rest, " ("); i >= 0 {
			sym, dso = rest[:i], rest[i+2:len(rest)-1]
		}
	}
	if i := strings.LastIndex(sym, "+0x"); i > 0 {
		sym = sym[:i]
	}
	if sym == "" || sym == "[unknown]" {
		sym = "[unknown]"
		if dso != "" && dso != "[unknown]" {
			sym = "[" + filepath.Base(dso) + "]"
		}
	}
	return frame{addr: a, sym: clip(sym), dso: clip(dso)}, true
}

// clip bounds a name from a profiled process and keeps it valid UTF-8.
func clip(s string) string {
	if len(s) > maxSymbol {
		s = s[:maxSymbol]
	}
	return strings.ToValidUTF8(s, "?")
}

// converter builds one profile, sharing functions, locations and mappings.
type converter struct {
	p         *profile.Profile
	mappings  map[string]*profile.Mapping
	functions map[[2]string]*profile.Function
	locations map[[2]string]*profile.Location
	event     string
}

func newConverter() *converter {
	return &converter{
		p:         &profile.Profile{},
		mappings:  map[string]*profile.Mapping{},
		functions: map[[2]string]*profile.Function{},
		locations: map[[2]string]*profile.Location{},
	}
}

func (c *converter) add(s *perfSample) {
	if c.event == "" {
		c.event = s.event
	}
	locs := make([]*profile.Location, 0, len(s.frames))
	for _, f := range s.frames {
		locs = append(locs, c.location(f))
	}
	if len(locs) == 0 {
		// A sample with no call graph still counts, as its command.
		locs = append(locs, c.location(frame{sym: "[" + s.comm + "]"}))
	}
	c.p.Sample = append(c.p.Sample, &profile.Sample{
		Location: locs,
		Value:    []int64{1, s.period},
		Label:    map[string][]string{"comm": {s.comm}},
		NumLabel: map[string][]int64{"pid": {s.pid}},
	})
}

// location is one per symbol and object: addresses within a function are
// folded, as a flame graph shows functions, not instructions.
func (c *converter) location(f frame) *profile.Location {
	key := [2]string{f.sym, f.dso}
	if l := c.locations[key]; l != nil {
		return l
	}
	fn := c.functions[key]
	if fn == nil {
		fn = &profile.Function{ID: uint64(len(c.p.Function) + 1), Name: f.sym, SystemName: f.sym, Filename: f.dso}
		c.functions[key] = fn
		c.p.Function = append(c.p.Function, fn)
	}
	l := &profile.Location{ID: uint64(len(c.p.Location) + 1), Address: f.addr, Mapping: c.mapping(f.dso),
		Line: []profile.Line{{Function: fn}}}
	c.locations[key] = l
	c.p.Location = append(c.p.Location, l)
	return l
}

func (c *converter) mapping(dso string) *profile.Mapping {
	if m := c.mappings[dso]; m != nil {
		return m
	}
	m := &profile.Mapping{ID: uint64(len(c.p.Mapping) + 1), File: dso, HasFunctions: true}
	c.mappings[dso] = m
	c.p.Mapping = append(c.p.Mapping, m)
	return m
}

func (c *converter) profile() *profile.Profile {
	event, unit := "events", "count"
	if c.event != "" {
		event = strings.SplitN(c.event, ":", 2)[0]
	}
	if event == "cpu-clock" || event == "task-clock" {
		event, unit = "cpu", "nanoseconds"
	}
	c.p.SampleType = []*profile.ValueType{{Type: "samples", Unit: "count"}, {Type: event, Unit: unit}}
	c.p.DefaultSampleType = event
	c.p.PeriodType = &profile.ValueType{Type: event, Unit: unit}
	return c.p
}
