// Package results parses what an execution script leaves behind: results.csv
// ("Key, Value" lines, numbers optionally carrying units).
package results

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"unicode"
)

// KPI is one key performance indicator read from results.csv.
type KPI struct {
	Name  string  `json:"name"`
	Value float64 `json:"value"`
	Unit  string  `json:"unit,omitempty"`
	Raw   string  `json:"raw"`
	// Line is where in its file the KPI was read (1-based; 0: unknown).
	Line int `json:"-"`
}

// Note reports a line of input that was not kept, and why.
type Note struct {
	File string `json:"file"`
	Line int    `json:"line"`
	Msg  string `json:"msg"`
}

// String is "file:line: msg", or "file: msg" when the line is not known.
func (n Note) String() string {
	if n.Line <= 0 {
		return fmt.Sprintf("%s: %s", n.File, n.Msg)
	}
	return fmt.Sprintf("%s:%d: %s", n.File, n.Line, n.Msg)
}

// MaxKPIs bounds how many KPIs one results.csv may yield.
const MaxKPIs = 10000

// ParseKPIs reads results.csv. Good lines become KPIs; bad lines become
// notes with their line numbers. A later line with the same key replaces an
// earlier one (and says so).
func ParseKPIs(file string, data []byte) ([]KPI, []Note) {
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	r := csv.NewReader(bytes.NewReader(data))
	r.FieldsPerRecord = -1
	r.TrimLeadingSpace = true
	r.LazyQuotes = true
	r.ReuseRecord = true

	var (
		kpis  []KPI
		notes []Note
		index = map[string]int{}
		first = true
	)
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		line, _ := r.FieldPos(0)
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				line = pe.Line
			}
			notes = append(notes, Note{file, line, "unreadable CSV: " + err.Error()})
			if pe == nil {
				break
			}
			continue
		}
		if len(rec) == 1 && strings.TrimSpace(rec[0]) == "" {
			continue
		}
		if len(rec) < 2 {
			notes = append(notes, Note{file, line, fmt.Sprintf("want \"Key, Value\", got %q", strings.Join(rec, ","))})
			continue
		}
		key, raw := strings.TrimSpace(rec[0]), strings.TrimSpace(rec[1])
		if first {
			first = false
			if strings.EqualFold(key, "key") && strings.EqualFold(raw, "value") {
				continue
			}
		}
		if key == "" {
			notes = append(notes, Note{file, line, "empty key"})
			continue
		}
		if len(rec) > 2 && strings.TrimSpace(strings.Join(rec[2:], "")) != "" {
			notes = append(notes, Note{file, line, fmt.Sprintf("%s: extra columns ignored", key)})
		}
		v, unit, err := ParseValue(raw)
		if err != nil {
			notes = append(notes, Note{file, line, fmt.Sprintf("%s: %v", key, err)})
			continue
		}
		k := KPI{Name: key, Value: v, Unit: unit, Raw: raw, Line: line}
		if i, ok := index[key]; ok {
			notes = append(notes, Note{file, line, fmt.Sprintf("%s: repeated key; this value replaces the earlier one", key)})
			kpis[i] = k
			continue
		}
		if len(kpis) >= MaxKPIs {
			notes = append(notes, Note{file, line, fmt.Sprintf("more than %d KPIs; the rest are ignored", MaxKPIs)})
			break
		}
		index[key] = len(kpis)
		kpis = append(kpis, k)
	}
	return kpis, notes
}

// multipliers are bare magnitude suffixes: "3.2k" means 3200 with no unit.
var multipliers = map[string]float64{"k": 1e3, "K": 1e3, "M": 1e6, "G": 1e9, "T": 1e12}

// ParseValue reads a number that may carry a unit: "12.5ms" → 12.5 "ms",
// "3.2k" → 3200 "", "99%" → 99 "%", "1.5GB" → 1.5 "GB", "1e3" → 1000 "".
func ParseValue(s string) (float64, string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, "", errors.New("empty value")
	}
	end := numberPrefix(s)
	if end == 0 {
		return 0, "", fmt.Errorf("%q is not a number", s)
	}
	v, err := strconv.ParseFloat(strings.ReplaceAll(s[:end], "_", ""), 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, "", fmt.Errorf("%q is not a finite number", s)
	}
	unit := strings.TrimSpace(s[end:])
	if m, ok := multipliers[unit]; ok {
		return v * m, "", nil
	}
	for _, r := range unit {
		if unicode.IsControl(r) {
			return 0, "", fmt.Errorf("%q has a control character in its unit", s)
		}
	}
	if len(unit) > 32 {
		return 0, "", fmt.Errorf("%q has a unit longer than 32 bytes", s)
	}
	return v, unit, nil
}

// numberPrefix returns the length of the longest leading decimal number.
func numberPrefix(s string) int {
	i := 0
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		i++
	}
	digits := 0
	for i < len(s) && (s[i] >= '0' && s[i] <= '9' || s[i] == '_' && digits > 0) {
		i++
		digits++
	}
	if i < len(s) && s[i] == '.' {
		i++
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
			digits++
		}
	}
	if digits == 0 {
		return 0
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		j := i + 1
		if j < len(s) && (s[j] == '+' || s[j] == '-') {
			j++
		}
		k := j
		for k < len(s) && s[k] >= '0' && s[k] <= '9' {
			k++
		}
		if k > j {
			i = k
		}
	}
	return i
}
