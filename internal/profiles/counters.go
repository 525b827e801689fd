package profiles

import (
	"bufio"
	"bytes"
	"fmt"
	"strconv"
	"strings"
)

// KPI is one figure a profiler gives the test.
type KPI struct {
	Name  string
	Value float64
	Unit  string
}

// maxCounters bounds the counters kept from one profiler's output.
const maxCounters = 64

// PerfStat reads `perf stat -x,` output (value,unit,event,run time,
// percentage,metric,metric unit) into KPIs named prefix.event, and lists
// the events the host cannot count (<not supported>, <not counted>), which
// are a note, not an error: virtual machines often have no hardware
// counters.
func PerfStat(prefix string, data []byte) (kpis []KPI, unsupported []string) {
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Split(line, ",")
		if len(f) < 3 {
			continue
		}
		value, unit, event := strings.TrimSpace(f[0]), strings.TrimSpace(f[1]), clip(strings.TrimSpace(f[2]))
		if event == "" {
			continue
		}
		if strings.HasPrefix(value, "<") {
			unsupported = append(unsupported, fmt.Sprintf("%s %s", event, strings.Trim(value, "<>")))
			continue
		}
		v, err := strconv.ParseFloat(value, 64)
		if err != nil || len(kpis) >= maxCounters {
			continue
		}
		switch unit {
		case "msec":
			unit = "ms"
		case "":
		default:
			unit = clip(unit)
		}
		kpis = append(kpis, KPI{Name: prefix + "." + event, Value: v, Unit: unit})
	}
	return kpis, unsupported
}

// Syscall is one row of strace -c's summary.
type Syscall struct {
	Name    string
	Seconds float64
	Calls   int64
	Errors  int64
}

// StraceSummary reads the table `strace -c` prints when it detaches: the
// rows per system call and the total row. Lines before the table (attach
// and detach messages) are ignored.
func StraceSummary(data []byte) (rows []Syscall, total Syscall, ok bool) {
	sc := bufio.NewScanner(bytes.NewReader(data))
	in := false
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case strings.HasPrefix(line, "% time"):
			in = true
			continue
		case !in || strings.HasPrefix(line, "---") || line == "":
			continue
		}
		f := strings.Fields(line)
		// % time, seconds, usecs/call, calls, [errors], syscall
		if len(f) < 5 || len(f) > 6 {
			continue
		}
		secs, err1 := strconv.ParseFloat(f[1], 64)
		calls, err2 := strconv.ParseInt(f[3], 10, 64)
		if err1 != nil || err2 != nil {
			continue
		}
		s := Syscall{Name: clip(f[len(f)-1]), Seconds: secs, Calls: calls}
		if len(f) == 6 {
			s.Errors, _ = strconv.ParseInt(f[4], 10, 64)
		}
		if s.Name == "total" {
			return rows, s, true
		}
		if len(rows) < 1000 {
			rows = append(rows, s)
		}
	}
	return rows, total, false
}

// StraceKPIs are the figures of a strace -c summary: calls, errors and
// seconds in system calls, each named prefix.*.
func StraceKPIs(prefix string, total Syscall) []KPI {
	return []KPI{
		{Name: prefix + ".syscalls", Value: float64(total.Calls)},
		{Name: prefix + ".errors", Value: float64(total.Errors)},
		{Name: prefix + ".syscall-time", Value: total.Seconds * 1000, Unit: "ms"},
	}
}

// StraceCSV is the summary as a table, which the server shows on the
// test's page as any CSV artifact.
func StraceCSV(rows []Syscall) []byte {
	var b bytes.Buffer
	b.WriteString("syscall,calls,errors,seconds\n")
	for _, r := range rows {
		fmt.Fprintf(&b, "%s,%d,%d,%g\n", csvSafe(r.Name), r.Calls, r.Errors, r.Seconds)
	}
	return b.Bytes()
}

// csvSafe keeps a name to what strace prints for system calls.
func csvSafe(s string) string {
	return strings.Map(func(c rune) rune {
		if c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' {
			return c
		}
		return '?'
	}, s)
}
