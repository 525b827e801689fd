package main

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"unicode/utf8"

	"github.com/pitwall/pitwall/internal/wire"
)

// results prints a test's KPIs: an aligned table, --json, --csv, and
// --junit FILE for CI systems. The exit status is the test's.
func (c *cli) results(ctx context.Context, args []string) error {
	fs := c.newFlags("results")
	asJSON := fs.Bool("json", false, "print the test as JSON")
	asCSV := fs.Bool("csv", false, "print the KPIs as CSV")
	junit := fs.String("junit", "", "also write JUnit XML to this file")
	id, err := parseTestID(fs, args)
	if err != nil {
		return err
	}
	if *asJSON && *asCSV {
		return usageErr("results: give --json or --csv, not both")
	}
	t, err := c.getTest(ctx, id)
	if err != nil {
		return err
	}
	if *junit != "" {
		if err := writeJUnit(*junit, t); err != nil {
			return usageErr("write JUnit file: %v", err)
		}
	}
	switch {
	case *asJSON:
		if err := c.printJSON(t); err != nil {
			return err
		}
	case *asCSV:
		if err := writeCSV(c, t); err != nil {
			return err
		}
	default:
		c.printResults(t)
	}
	return testOutcome(t)
}

func (c *cli) printResults(t *wire.Test) {
	fmt.Fprintf(c.stdout, "test %d  %s v%d  %s", t.ID, t.Framework, t.FrameworkVersion, t.State)
	if t.Verdict != "" {
		fmt.Fprintf(c.stdout, "  verdict %s", t.Verdict)
	}
	fmt.Fprintln(c.stdout)
	if t.Reason != "" {
		fmt.Fprintf(c.stdout, "reason: %s\n", t.Reason)
	}
	verdicts := map[string]string{}
	for _, k := range t.KPIs {
		verdicts[k.Name] = k.Verdict
	}
	tw := tabwriter.NewWriter(c.stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	names := make([]string, 0, len(t.KPISummary))
	for _, s := range t.KPISummary {
		names = append(names, s.Name)
	}
	pad := leftAligned("KPI", names)
	repeated := false
	for _, s := range t.KPISummary {
		repeated = repeated || s.Count > 1
	}
	if repeated {
		fmt.Fprintf(tw, "%s\tMEAN\tMEDIAN\tMIN\tMAX\tSTDDEV\tN\tUNIT\tVERDICT\t\n", pad("KPI"))
		for _, s := range t.KPISummary {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\t\n", pad(s.Name), num(s.Mean), num(s.Median), num(s.Min),
				num(s.Max), num(s.Stddev), s.Count, s.Unit, verdicts[s.Name])
		}
	} else {
		fmt.Fprintf(tw, "%s\tVALUE\tUNIT\tVERDICT\t\n", pad("KPI"))
		for _, s := range t.KPISummary {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t\n", pad(s.Name), num(s.Mean), s.Unit, verdicts[s.Name])
		}
	}
	_ = tw.Flush()
	for _, n := range t.Notes {
		fmt.Fprintf(c.stdout, "note: %s\n", n)
	}
	fmt.Fprintf(c.stdout, "page: %s\n", t.URL)
}

func num(v float64) string { return strconv.FormatFloat(v, 'g', 6, 64) }

// cell neutralises text a spreadsheet would run as a formula (a KPI name
// or unit comes from a script): a leading =, +, -, @, tab or carriage
// return gets a ' before it, as OWASP advises.
func cell(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

func writeCSV(c *cli, t *wire.Test) error {
	w := csv.NewWriter(c.stdout)
	_ = w.Write([]string{"test", "kpi", "iteration", "value", "unit", "verdict"})
	for _, k := range t.KPIs {
		_ = w.Write([]string{strconv.FormatInt(t.ID, 10), cell(k.Name), strconv.Itoa(k.Iteration),
			strconv.FormatFloat(k.Value, 'g', -1, 64), cell(k.Unit), cell(k.Verdict)})
	}
	w.Flush()
	return w.Error()
}

// JUnit XML, as CI systems read it.
type junitSuites struct {
	XMLName xml.Name     `xml:"testsuites"`
	Suites  []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name      string      `xml:"name,attr"`
	Tests     int         `xml:"tests,attr"`
	Failures  int         `xml:"failures,attr"`
	Errors    int         `xml:"errors,attr"`
	Time      string      `xml:"time,attr"`
	Timestamp string      `xml:"timestamp,attr"`
	Props     []junitProp `xml:"properties>property"`
	Cases     []junitCase `xml:"testcase"`
	SystemOut string      `xml:"system-out,omitempty"`
}

type junitProp struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	Time      string        `xml:"time,attr"`
	Failure   *junitFailure `xml:"failure,omitempty"`
	Error     *junitFailure `xml:"error,omitempty"`
	SystemOut string        `xml:"system-out,omitempty"`
}

type junitFailure struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Text    string `xml:",chardata"`
}

// writeJUnit writes one test case per KPI (a failure when it regressed) and
// one for the run itself (an error when the test failed, was aborted or
// timed out).
func writeJUnit(path string, t *wire.Test) error {
	class := "pitwall." + t.Framework
	elapsed := 0.0
	if t.EndedAt != nil {
		elapsed = t.EndedAt.Sub(t.CreatedAt).Seconds()
	}
	s := junitSuite{Name: fmt.Sprintf("%s test %d", class, t.ID), Time: fmt.Sprintf("%.3f", elapsed),
		Timestamp: t.CreatedAt.UTC().Format("2006-01-02T15:04:05"), SystemOut: t.URL}
	for _, p := range []junitProp{{"state", t.State}, {"verdict", t.Verdict}, {"commit", t.Commit}, {"branch", t.Branch},
		{"host", t.Host}, {"url", t.URL}} {
		if p.Value != "" {
			s.Props = append(s.Props, p)
		}
	}
	run := junitCase{Name: "run", Classname: class, Time: s.Time}
	if t.State != wire.StateFinished {
		run.Error = &junitFailure{Message: t.State + ": " + t.Reason, Type: t.State, Text: t.Reason}
		s.Errors++
	}
	s.Cases = append(s.Cases, run)
	verdicts := map[string]string{}
	for _, k := range t.KPIs {
		verdicts[k.Name] = k.Verdict
	}
	for _, k := range t.KPISummary {
		c := junitCase{Name: k.Name, Classname: class, Time: "0",
			SystemOut: fmt.Sprintf("%s %s (n=%d, min %s, max %s)", num(k.Mean), k.Unit, k.Count, num(k.Min), num(k.Max))}
		if verdicts[k.Name] == wire.VerdictRegressed {
			c.Failure = &junitFailure{Message: fmt.Sprintf("%s regressed: %s %s", k.Name, num(k.Mean), k.Unit), Type: "regression"}
			s.Failures++
		}
		s.Cases = append(s.Cases, c)
	}
	s.Tests = len(s.Cases)
	out, err := xml.MarshalIndent(junitSuites{Suites: []junitSuite{s}}, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append([]byte(xml.Header), append(out, '\n')...), 0o644)
}

// compare prints the KPIs of several tests side by side, with deltas
// against the first, after what differs between them.
func (c *cli) compare(ctx context.Context, args []string) error {
	fs := c.newFlags("compare")
	asJSON := fs.Bool("json", false, "print the comparison as JSON")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) < 2 || len(pos) > 10 {
		return usageErr("compare needs 2 to 10 test IDs")
	}
	for _, p := range pos {
		if _, err := testID("compare", []string{p}); err != nil {
			return err
		}
	}
	var cmp wire.Comparison
	if err := c.do(ctx, http.MethodGet, "/api/v1/compare?ids="+strings.Join(pos, ","), "", nil, &cmp); err != nil {
		return err
	}
	if *asJSON {
		return c.printJSON(cmp)
	}
	if len(cmp.Diffs) > 0 {
		fmt.Fprintln(c.stdout, "differences:")
		for _, d := range cmp.Diffs {
			fmt.Fprintf(c.stdout, "  %s: %s\n", d.What, strings.Join(d.Values, " | "))
		}
		fmt.Fprintln(c.stdout)
	}
	tw := tabwriter.NewWriter(c.stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	names := make([]string, 0, len(cmp.KPIs))
	for _, k := range cmp.KPIs {
		names = append(names, k.Name)
	}
	pad := leftAligned("KPI", names)
	fmt.Fprintf(tw, "%s\tUNIT\t", pad("KPI"))
	for _, t := range cmp.Tests {
		fmt.Fprintf(tw, "#%d\t", t.ID)
	}
	fmt.Fprintln(tw)
	for _, k := range cmp.KPIs {
		fmt.Fprintf(tw, "%s\t%s\t", pad(k.Name), k.Unit)
		for i, v := range k.Values {
			switch {
			case v == nil:
				fmt.Fprint(tw, "—\t")
			case i < len(k.Verdicts) && (k.Verdicts[i] == wire.VerdictRegressed || k.Verdicts[i] == wire.VerdictImproved):
				mark := "!"
				if k.Verdicts[i] == wire.VerdictImproved {
					mark = "+"
				}
				if i == 0 || k.DeltaPct[i] == nil {
					fmt.Fprintf(tw, "%s %s\t", num(*v), mark)
				} else {
					fmt.Fprintf(tw, "%s (%+.1f%%) %s\t", num(*v), *k.DeltaPct[i], mark)
				}
			case i == 0 || k.DeltaPct[i] == nil:
				fmt.Fprintf(tw, "%s\t", num(*v))
			default:
				fmt.Fprintf(tw, "%s (%+.1f%%)\t", num(*v), *k.DeltaPct[i])
			}

		}
		fmt.Fprintln(tw)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, k := range cmp.KPIs {
		for _, v := range k.Verdicts {
			if v == wire.VerdictRegressed || v == wire.VerdictImproved {
				fmt.Fprintln(c.stdout, "! regressed, + improved: each test's verdict against its own baseline")
				return nil
			}
		}
	}
	return nil
}

// export prints a test as a document another Pitwall can import.
func (c *cli) export(ctx context.Context, args []string) error {
	fs := c.newFlags("export")
	id, err := parseTestID(fs, args)
	if err != nil {
		return err
	}
	var ex json.RawMessage
	if err := c.do(ctx, http.MethodGet, fmt.Sprintf("/api/v1/tests/%d/export", id), "", nil, &ex); err != nil {
		return err
	}
	_, err = c.stdout.Write(append(ex, '\n'))
	return err
}

// importTest sends an exported test to this server.
func (c *cli) importTest(ctx context.Context, args []string) error {
	fs := c.newFlags("import")
	asJSON := fs.Bool("json", false, "print the new test as JSON")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usageErr("import needs one file (- for standard input)")
	}
	var data []byte
	if pos[0] == "-" {
		data, err = readAllStdin()
	} else {
		data, err = os.ReadFile(pos[0])
	}
	if err != nil {
		return usageErr("read %s: %v", pos[0], err)
	}
	var t wire.Test
	if err := c.do(ctx, http.MethodPost, "/api/v1/import", "application/json", data, &t); err != nil {
		return err
	}
	if *asJSON {
		return c.printJSON(t)
	}
	fmt.Fprintf(c.stdout, "imported as test %d: %s\n", t.ID, t.URL)
	return nil
}

// leftAligned pads the first column of a right-aligned table to one width,
// so names read left-aligned while figures line up on the right.
func leftAligned(header string, names []string) func(string) string {
	width := utf8.RuneCountInString(header)
	for _, n := range names {
		width = max(width, utf8.RuneCountInString(n))
	}
	return func(s string) string { return s + strings.Repeat(" ", width-utf8.RuneCountInString(s)) }
}
