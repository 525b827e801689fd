package tests

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"path"
	"strings"

	"github.com/google/pprof/profile"

	"github.com/pitwall/pitwall/internal/profiles"
	"github.com/pitwall/pitwall/internal/store"
	"github.com/pitwall/pitwall/internal/wire"
)

// Bounds on the profiles a page draws.
const (
	// MaxFlameGraphs is how many profiles of a test its page draws.
	MaxFlameGraphs = 8
	// MaxProfileBytes is the largest profile artifact drawn; larger ones
	// are linked only.
	MaxProfileBytes = 32 << 20
	// DiffTop is how many functions a differential graph lists.
	DiffTop = 15
)

// FlameGraph is one profile of a test drawn as a flame graph.
type FlameGraph struct {
	// Path is the profile's artifact path, Name its profiler and run.
	Path, Name string
	// SVG is the drawing, every name in it escaped (profiles.Node.SVG).
	SVG string
	// Samples counts the profile's samples; Unit is what frames weigh.
	Samples int
	Unit    string
	// Problem says why the profile was not drawn.
	Problem string
}

// IsProfile says whether an artifact is a profile a profiler left.
func IsProfile(p string) bool {
	return strings.HasPrefix(p, "profiles/") && strings.HasSuffix(p, ".pb.gz")
}

// FlameGraphs draws the profiles of a test the principal may see.
func (s *Service) FlameGraphs(ctx context.Context, id int64) ([]FlameGraph, error) {
	arts, err := s.Artifacts(ctx, id)
	if err != nil {
		return nil, err
	}
	var out []FlameGraph
	for _, a := range arts {
		if !IsProfile(a.Path) || len(out) == MaxFlameGraphs {
			continue
		}
		g := FlameGraph{Path: a.Path, Name: profileName(a.Path)}
		p, err := s.loadProfile(ctx, id, a)
		if err != nil {
			g.Problem = err.Error()
		} else {
			g.Samples, g.Unit = len(p.Sample), unitOf(p)
			g.SVG = profiles.Tree(p).SVG(flameID("fg", a.Path), g.Unit)
		}
		out = append(out, g)
	}
	return out, nil
}

// ProfileDiff is a profile of a test against the same profile of its
// baseline: the functions whose share grew most, and the test's flame
// graph coloured by each frame's change.
type ProfileDiff struct {
	Path, Name   string
	Base, Test   int64
	Grown        []profiles.FuncDelta
	SVG          string
	Problem      string
	BaseN, TestN int
	Unit         string
}

// ProfileDiffs compares each profile test has with the same profile of
// base (same profiler, same run), for two tests the principal may see.
func (s *Service) ProfileDiffs(ctx context.Context, base, test int64) ([]ProfileDiff, error) {
	ba, err := s.Artifacts(ctx, base)
	if err != nil {
		return nil, err
	}
	ta, err := s.Artifacts(ctx, test)
	if err != nil {
		return nil, err
	}
	byPath := map[string]wire.Artifact{}
	for _, a := range ba {
		byPath[a.Path] = a
	}
	var out []ProfileDiff
	for _, a := range ta {
		b, ok := byPath[a.Path]
		if !IsProfile(a.Path) || !ok || len(out) == MaxFlameGraphs {
			continue
		}
		d := ProfileDiff{Path: a.Path, Name: profileName(a.Path), Base: base, Test: test}
		bp, err := s.loadProfile(ctx, base, b)
		var tp *profile.Profile
		if err == nil {
			tp, err = s.loadProfile(ctx, test, a)
		}
		if err != nil {
			d.Problem = err.Error()
			out = append(out, d)
			continue
		}
		d.BaseN, d.TestN, d.Unit = len(bp.Sample), len(tp.Sample), unitOf(tp)
		for _, f := range profiles.Diff(bp, tp) {
			if len(d.Grown) < DiffTop && (f.SelfDelta > 0 || f.TotalDelta > 0) {
				d.Grown = append(d.Grown, f)
			}
		}
		d.SVG = profiles.Differential(bp, tp).SVG(flameID("diff", a.Path), d.Unit)
		out = append(out, d)
	}
	return out, nil
}

// loadProfile reads and parses one profile artifact, refusing one too
// large to draw.
func (s *Service) loadProfile(ctx context.Context, id int64, a wire.Artifact) (*profile.Profile, error) {
	if a.Size > MaxProfileBytes {
		return nil, fmt.Errorf("%d bytes; profiles over %d bytes are not drawn", a.Size, MaxProfileBytes)
	}
	var buf bytes.Buffer
	err := s.Store.ArtifactOpen(ctx, id, a.Path, func(store.Artifact) io.Writer { return &buf })
	if err != nil {
		return nil, fmt.Errorf("read %s of test %d: %w", a.Path, id, err)
	}
	p, err := profile.ParseData(buf.Bytes())
	if err != nil {
		return nil, fmt.Errorf("not a pprof profile: %w", err)
	}
	return p, nil
}

// profileName is "perf (script-2)" for profiles/script-2/perf.pb.gz.
func profileName(p string) string {
	dir, file := path.Split(strings.TrimPrefix(p, "profiles/"))
	name := strings.TrimSuffix(file, ".pb.gz")
	if dir = strings.TrimSuffix(dir, "/"); dir != "" {
		return name + " (" + dir + ")"
	}
	return name
}

// unitOf names what a profile's frames weigh.
func unitOf(p *profile.Profile) string {
	if len(p.SampleType) == 0 {
		return "samples"
	}
	st := p.SampleType[profiles.ValueIndex(p)]
	return st.Unit
}

// flameID is an element ID for a profile's drawing.
func flameID(prefix, p string) string {
	return prefix + "-" + strings.Map(func(c rune) rune {
		if c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' {
			return c
		}
		return '-'
	}, strings.ToLower(p))
}
