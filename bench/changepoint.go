package bench

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/pitwall/pitwall/internal/changepoint"
)

//go:embed edivisive.py
var edivisivePy []byte

// otava's published runtimes, the reference when Python is not available.
const otavaRef = "Otava published: detect N=1,000 12 ms, N=5,000 65 ms, append 3-5 ms"

// cpSeries is a deterministic series of n runs: 2% noise with a 5% step
// every 250 runs.
func cpSeries(n int) []float64 {
	r := rand.New(rand.NewPCG(1, 2))
	x := make([]float64, n)
	level := 100.0
	for i := range x {
		if i > 0 && i%250 == 0 {
			if (i/250)%2 == 1 {
				level *= 1.05
			} else {
				level /= 1.05
			}
		}
		x[i] = level * (1 + 0.02*r.NormFloat64())
	}
	return x
}

// measureChangepoint times Detect on 1,000 and 5,000 runs and Append of one
// run to 4,999, next to a reference E-divisive in Python/numpy/scipy run on
// the same series in the same run.
func measureChangepoint(ctx context.Context, e *env) []Result {
	repeats := e.pick(3, 21)
	x := cpSeries(5000)
	method := func(what string) string {
		return fmt.Sprintf("%s, %d repeats, median ± half IQR; series: 2%% noise, a 5%% step every 250 runs (deterministic); "+
			"peer: edivisive.py embedded in the suite (E-divisive means in windows of 50, Welch t-test split p<0.02, merge p<0.001, "+
			"numpy/scipy), same series, same run, timed inside Python", what, repeats)
	}
	type job struct {
		name, key, what, goal string
		f                     func()
		bound                 float64
	}
	known := changepoint.Detect(x[:4999], changepoint.Defaults)
	jobs := []job{
		{"changepoint-detect-1000", "detect_1000", "changepoint.Detect on N=1,000", "≤ Otava's 12 ms", func() { changepoint.Detect(x[:1000], changepoint.Defaults) }, 12},
		{"changepoint-detect-5000", "detect_5000", "changepoint.Detect on N=5,000", "≤ Otava's 65 ms", func() { changepoint.Detect(x, changepoint.Defaults) }, 65},
		{"changepoint-append", "append_5000", "changepoint.Append of one run to 4,999 with the change points known", "≤ Otava's 3 ms", func() { changepoint.Append(x, known, changepoint.Defaults) }, 3},
	}
	peer, peerErr := runEdivisivePy(ctx, x, repeats, !e.NoInstall)
	var out []Result
	for _, j := range jobs {
		var d []float64
		for range repeats {
			t0 := time.Now()
			j.f()
			d = append(d, ms(time.Since(t0)))
		}
		r := Result{Name: j.name, Method: method(j.what), Goal: j.goal, Ours: summarize("ms", d, false)}
		if peerErr != nil {
			r.Peer = Figure{Text: "skipped: " + peerErr.Error() + "; " + otavaRef}
		} else {
			r.PeerName = "E-divisive (Python)"
			r.Peer = summarize("ms", peer[j.key], false)
			r.setRatio()
		}
		r.Met = met(r.Ours.Median <= j.bound)
		out = append(out, r)
	}
	return out
}

// runEdivisivePy runs the embedded reference on x and returns its runtimes.
func runEdivisivePy(ctx context.Context, x []float64, repeats int, install bool) (map[string][]float64, error) {
	py := findPython(ctx)
	if py == "" && install && os.Geteuid() == 0 {
		aptInstall(ctx, "python3-numpy", "python3-scipy")
		py = findPython(ctx)
	}
	if py == "" {
		return nil, fmt.Errorf("no python3 with numpy and scipy (Debian: apt-get install python3-numpy python3-scipy)")
	}
	dir, err := os.MkdirTemp("", "pitwall-bench-py-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	script := filepath.Join(dir, "edivisive.py")
	if err := os.WriteFile(script, edivisivePy, 0o644); err != nil {
		return nil, err
	}
	in, _ := json.Marshal(map[string]any{"series": x, "repeats": repeats})
	cmd := exec.CommandContext(ctx, py, script)
	cmd.Stdin = bytes.NewReader(in)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	outb, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("edivisive.py: %v: %s", err, bytes.TrimSpace(stderr.Bytes()))
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(outb, &raw); err != nil {
		return nil, err
	}
	res := map[string][]float64{}
	for k, v := range raw {
		var xs []float64
		if json.Unmarshal(v, &xs) == nil {
			res[k] = xs
		}
	}
	return res, nil
}

// findPython returns a python3 that imports numpy and scipy: the one on
// PATH, else Debian's (a pyenv shim on PATH may lack Debian's packages).
func findPython(ctx context.Context) string {
	cands := []string{"/usr/bin/python3"}
	if p, err := exec.LookPath("python3"); err == nil {
		cands = append([]string{p}, cands...)
	}
	for _, p := range cands {
		if exec.CommandContext(ctx, p, "-c", "import numpy, scipy").Run() == nil {
			return p
		}
	}
	return ""
}
