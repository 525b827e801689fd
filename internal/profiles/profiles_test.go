package profiles

import (
	"bytes"
	"os"
	"strings"
	"testing"

	"github.com/google/pprof/profile"
	"github.com/stretchr/testify/require"
)

// The testdata are real outputs captured on a 2-core VM: perf 6.1 recording
// (-F 99 -g -p PID) a Go program whose loop calls main.hotSpin every time
// and main.slowPath every 10th or every 2nd time; a whole-host recording
// (kernel frames, Go methods, unknown frames); perf stat -x, on the same
// program (hardware counters unsupported); strace -c -f on a shell loop.

func perfProfile(t *testing.T, name string) *profile.Profile {
	t.Helper()
	f, err := os.Open("testdata/" + name)
	require.NoError(t, err)
	defer f.Close()
	p, skipped, err := FromPerfScript(f)
	require.NoError(t, err)
	require.Zero(t, skipped, "every line of real perf script output is read")
	require.NoError(t, p.CheckValid())
	return p
}

func TestPerfScriptHotFunctionInFlameGraph(t *testing.T) {
	t.Parallel()
	p := perfProfile(t, "perf-script-slow-every-10.txt")
	require.Equal(t, "cpu", p.SampleType[1].Type)
	require.Equal(t, "nanoseconds", p.SampleType[1].Unit)

	// The profile survives pprof's own encoding.
	var buf bytes.Buffer
	require.NoError(t, p.Write(&buf))
	back, err := profile.Parse(&buf)
	require.NoError(t, err)
	require.Len(t, back.Sample, len(p.Sample))

	root := Tree(back)
	hot := root.Find("main.hotSpin")
	require.NotNil(t, hot, "the hot function is a frame of the flame graph")
	require.Greater(t, float64(hot.Total)/float64(root.Total), 0.5, "main.hotSpin holds most of the CPU time")
	require.NotNil(t, root.Find("runtime.main"))
	require.Equal(t, "runtime.goexit.abi0", root.Children[0].Name, "stacks are rooted at their outermost frame")

	svg := root.SVG("fg", "ns")
	require.Contains(t, svg, ">main.hotSpin<")
	require.True(t, strings.HasPrefix(svg, "<svg") && strings.HasSuffix(svg, "</svg>"))
}

func TestPerfScriptHostWide(t *testing.T) {
	t.Parallel()
	p := perfProfile(t, "perf-script-host.txt")
	root := Tree(p)
	require.NotNil(t, root.Find("do_syscall_64"), "kernel frames are kept")
	require.NotNil(t, root.Find("cmd/compile/internal/noder.(*reader).typWrapped"), "Go method names keep their parentheses")
	require.NotNil(t, root.Find("[unknown]"))
	comms := map[string]bool{}
	for _, s := range p.Sample {
		comms[s.Label["comm"][0]] = true
	}
	require.True(t, comms["cat"])
}

func TestPerfScriptHostileNamesAreEscaped(t *testing.T) {
	t.Parallel()
	in := "evil <b>x</b> 42 [000] 1.000: 10101010 cpu-clock:ppp: \n" +
		"\t1234 <script>alert(1)</script>+0x10 (/tmp/a\"b)\n" +
		"\t5678 main (/tmp/x)\n\n"
	p, skipped, err := FromPerfScript(strings.NewReader(in))
	require.NoError(t, err)
	require.Zero(t, skipped)
	require.Equal(t, "evil <b>x</b>", p.Sample[0].Label["comm"][0])
	svg := Tree(p).SVG(`"id`, "ns")
	require.NotContains(t, svg, "<script>")
	require.NotContains(t, svg, `"id`)
	require.Contains(t, svg, "&lt;script&gt;alert(1)&lt;/script&gt;")
}

func TestDifferentialRanksTheSlowFunctionFirst(t *testing.T) {
	t.Parallel()
	base := perfProfile(t, "perf-script-slow-every-10.txt")
	test := perfProfile(t, "perf-script-slow-every-2.txt")
	d := Diff(base, test)
	require.Equal(t, "main.slowPath", d[0].Name, "the function called more often ranks first: %+v", d[:3])
	require.Greater(t, d[0].SelfDelta, 0.05)
	last := d[len(d)-1]
	require.Equal(t, "main.hotSpin", last.Name, "the function whose share fell ranks last")

	g := Differential(base, test)
	slow := g.Find("main.slowPath")
	require.NotNil(t, slow)
	svg := g.SVG("diff", "ns")
	require.Contains(t, svg, "main.slowPath")
	require.Contains(t, svg, "against the baseline")
}

func TestPerfStatCounters(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile("testdata/perf-stat.csv")
	require.NoError(t, err)
	kpis, unsupported := PerfStat("perf-stat", data)
	byName := map[string]KPI{}
	for _, k := range kpis {
		byName[k.Name] = k
	}
	require.Equal(t, KPI{Name: "perf-stat.task-clock", Value: 1020.09, Unit: "ms"}, byName["perf-stat.task-clock"])
	require.Equal(t, 627.0, byName["perf-stat.context-switches"].Value)
	require.Contains(t, byName, "perf-stat.page-faults")
	require.Equal(t, []string{"cycles not supported", "instructions not supported"}, unsupported)
}

func TestStraceSummary(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile("testdata/strace-c.txt")
	require.NoError(t, err)
	rows, total, ok := StraceSummary(data)
	require.True(t, ok)
	require.Equal(t, Syscall{Name: "total", Seconds: 0.421653, Calls: 5275, Errors: 630}, total)
	require.Equal(t, "wait4", rows[0].Name)
	require.Equal(t, int64(36), rows[0].Errors)
	require.Equal(t, "mmap", rows[2].Name)
	require.Zero(t, rows[2].Errors)
	kpis := StraceKPIs("strace", total)
	require.Equal(t, KPI{Name: "strace.syscalls", Value: 5275}, kpis[0])
	require.Contains(t, string(StraceCSV(rows)), "openat,1206,468,0.035185\n")

	_, _, ok = StraceSummary([]byte("strace: Process 1 attached\nstrace: Process 1 detached\n"))
	require.False(t, ok, "no table, no summary")
}
