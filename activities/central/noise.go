package central

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/pitwall/pitwall/internal/confirm"
	"github.com/pitwall/pitwall/internal/store"
	"github.com/pitwall/pitwall/workflows/contract"
)

// Levels of the noise floors (docs/noise.md): the CV's interval, and the
// F test that flags a host whose noise jumped.
const (
	NoiseConfidence = 0.95
	NoiseJumpAlpha  = 0.01
)

// checkNoise refuses a step asked by another workflow than the
// measurement's own.
func (a *Activities) checkNoise(ctx context.Context, step string, id int64) error {
	if !a.AnyCaller {
		if got, want := activity.GetInfo(ctx).WorkflowExecution.ID, contract.NoiseWorkflowID(id); got != want {
			return refuse("%s of noise measurement %d refused: asked by workflow %q, not its own %q", step, id, got, want)
		}
	}
	return nil
}

// NoiseLoad returns what a noise measurement runs: its host (with the
// framework's statistics hosts), its runs and the framework's KPIs.
func (a *Activities) NoiseLoad(ctx context.Context, id int64) (*contract.NoisePlan, error) {
	if err := a.checkNoise(ctx, "loading", id); err != nil {
		return nil, err
	}
	host, f, runs, _, err := a.Store.NoisePlanOf(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, temporal.NewNonRetryableApplicationError(err.Error(), contract.ErrNotFound, err)
	}
	if err != nil {
		return nil, err
	}
	hosts := append([]string{host}, f.Statistics.Hosts...)
	slices.Sort(hosts)
	p := &contract.NoisePlan{ID: id, Host: host, Hosts: slices.Compact(hosts), Runs: runs}
	for _, k := range f.KPIs {
		p.KPIs = append(p.KPIs, k.Name)
	}
	return p, nil
}

// NoiseRun creates the next run of a measurement and returns its test ID.
func (a *Activities) NoiseRun(ctx context.Context, id int64) (int64, error) {
	if err := a.checkNoise(ctx, "a run", id); err != nil {
		return 0, err
	}
	testID, err := a.Store.NoiseRunCreate(ctx, id, time.Now())
	if errors.Is(err, store.ErrNotFound) {
		return 0, refuse("a run of noise measurement %d refused: it is not running", id)
	}
	return testID, err
}

// NoiseEnd records a measurement's ending; a finished one gets each KPI's
// floor: its CV with the chi-square interval, and whether it jumped
// against the host's earlier measurements of the framework (F test).
func (a *Activities) NoiseEnd(ctx context.Context, in contract.NoiseEndInput) error {
	if err := a.checkNoise(ctx, "recording", in.ID); err != nil {
		return err
	}
	var (
		floors []store.NoiseFloorRecord
		notes  []string
	)
	names := make([]string, 0, len(in.Values))
	for k := range in.Values {
		names = append(names, k)
	}
	slices.Sort(names)
	for _, k := range names {
		values := in.Values[k]
		f := NoiseFloorOf(values)
		if math.IsNaN(f.CV) || math.IsInf(f.CV, 0) || math.IsNaN(f.High) || math.IsInf(f.High, 0) {
			notes = append(notes, fmt.Sprintf("%s has no CV (fewer than 2 runs or a mean of 0)", k))
			continue
		}
		history, err := a.Store.NoiseHistory(ctx, in.ID, k)
		if err != nil {
			return fmt.Errorf("noise history of %s: %w", k, err)
		}
		rec := store.NoiseFloorRecord{KPI: k, CV: f.CV, Low: f.Low, High: f.High, Confidence: f.Confidence, Values: values}
		if len(history) > 0 {
			j := confirm.NoiseJumped(history, values, NoiseJumpAlpha)
			rec.Jumped, rec.Evidence = j.Jumped, j.Evidence
		} else {
			rec.Evidence = "first measurement of the framework on the host"
		}
		floors = append(floors, rec)
	}
	reason := in.Reason
	if len(notes) > 0 {
		reason += "; " + strings.Join(notes, "; ")
	}
	return a.Store.NoiseEnd(ctx, in.ID, in.State, reason, floors, time.Now())
}

// NoiseFloorOf is a KPI's noise floor from its A/A runs, at
// NoiseConfidence.
func NoiseFloorOf(values []float64) confirm.NoiseFloor { return confirm.CV(values, NoiseConfidence) }
