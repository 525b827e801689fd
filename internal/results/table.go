package results

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Table is a CSV file other than results.csv: its header, its rows kept as
// text, and which columns hold numbers (optionally with units).
type Table struct {
	Name    string     `json:"name"`
	Header  []string   `json:"header"`
	Rows    [][]string `json:"rows"`
	Numeric []bool     `json:"numeric"`
}

// MaxTableRows bounds the rows kept from one CSV file.
const MaxTableRows = 1_000_000

// ParseTable reads a CSV file: the first non-empty line is the header; a
// row whose field count differs from the header's is reported with its line
// number and left out; the good rows are kept. A column is numeric when
// every non-empty value in it is a number.
func ParseTable(name string, data []byte) (*Table, []Note) {
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	r := csv.NewReader(bytes.NewReader(data))
	r.FieldsPerRecord = -1
	r.TrimLeadingSpace = true
	r.LazyQuotes = true
	t := &Table{Name: name, Rows: [][]string{}}
	var notes []Note
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		line, _ := r.FieldPos(0)
		if err != nil {
			var pe *csv.ParseError
			if !errors.As(err, &pe) {
				notes = append(notes, Note{name, line, "unreadable CSV: " + err.Error()})
				break
			}
			notes = append(notes, Note{name, pe.Line, "unreadable CSV: " + pe.Err.Error()})
			continue
		}
		if len(rec) == 1 && strings.TrimSpace(rec[0]) == "" {
			continue
		}
		for i := range rec {
			rec[i] = strings.TrimSpace(rec[i])
		}
		if t.Header == nil {
			t.Header = rec
			continue
		}
		if len(rec) != len(t.Header) {
			notes = append(notes, Note{name, line, fmt.Sprintf("%d fields where the header has %d; row left out", len(rec), len(t.Header))})
			continue
		}
		if len(t.Rows) >= MaxTableRows {
			notes = append(notes, Note{name, line, fmt.Sprintf("more than %d rows; the rest are left out", MaxTableRows)})
			break
		}
		t.Rows = append(t.Rows, rec)
	}
	if t.Header == nil {
		t.Header = []string{}
		notes = append(notes, Note{name, 1, "empty: no header row"})
	}
	t.Numeric = make([]bool, len(t.Header))
	for c := range t.Header {
		seen := false
		numeric := true
		for _, row := range t.Rows {
			if row[c] == "" {
				continue
			}
			seen = true
			if _, _, err := ParseValue(row[c]); err != nil {
				numeric = false
				break
			}
		}
		t.Numeric[c] = seen && numeric
	}
	return t, notes
}
