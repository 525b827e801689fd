package trends

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strconv"
	"unicode/utf8"

	"github.com/a-h/templ"
)

// chartScript is templ.JSONScript for a chart or a list of charts: a
// JSON script element with the page's nonce. Their MarshalJSON writes
// what json.Marshal would, escaped for HTML already, so the bytes go out
// as they are: templ.JSONScript's encoding/json pass compacted and
// re-escaped every byte of them again (a tenth of the trends page's CPU
// at 365 points).
func chartScript(id string, v json.Marshaler) templ.Component {
	return templ.ComponentFunc(func(ctx context.Context, w io.Writer) error {
		b, err := v.MarshalJSON()
		if err != nil {
			return err
		}
		head := `<script id="` + templ.EscapeString(id) + `" type="application/json"`
		if nonce := templ.GetNonce(ctx); nonce != "" {
			head += ` nonce="` + templ.EscapeString(nonce) + `"`
		}
		if _, err := io.WriteString(w, head+">"); err != nil {
			return err
		}
		if _, err := w.Write(b); err != nil {
			return err
		}
		_, err = io.WriteString(w, "</script>")
		return err
	})
}

// charts is the every-KPI page's list of charts.
type charts []chart

// MarshalJSON writes the list as json.Marshal would, each chart by its
// own MarshalJSON.
func (cs charts) MarshalJSON() ([]byte, error) {
	if cs == nil {
		return []byte("null"), nil
	}
	b := []byte{'['}
	for i, c := range cs {
		if i > 0 {
			b = append(b, ',')
		}
		j, err := c.MarshalJSON()
		if err != nil {
			return nil, err
		}
		b = append(b, j...)
	}
	return append(b, ']'), nil
}

// MarshalJSON writes the chart as json.Marshal would (the same fields in
// the same order, numbers in its format, text escaped for HTML), the
// per-point arrays by hand: reflection over hundreds of points a chart
// was most of the page's JSON cost on a long history.
func (c chart) MarshalJSON() ([]byte, error) {
	b := make([]byte, 0, 256+len(c.X)*96)
	b = append(b, `{"title":`...)
	b = appendString(b, c.Title)
	b = append(b, `,"unit":`...)
	b = appendString(b, c.Unit)
	if c.Href != "" {
		b = append(b, `,"href":`...)
		b = appendString(b, c.Href)
	}
	b = append(b, `,"compact":`...)
	b = strconv.AppendBool(b, c.Compact)
	var err error
	float := func(b []byte, x float64) []byte {
		b, err = appendFloat(b, x, err)
		return b
	}
	b = appendArray(b, "x", c.X, float)
	b = appendArray(b, "y", c.Y, float)
	b = appendArray(b, "ids", c.IDs, func(b []byte, id int64) []byte { return strconv.AppendInt(b, id, 10) })
	b = appendArray(b, "line", c.Line, func(b []byte, l int) []byte { return strconv.AppendInt(b, int64(l), 10) })
	b = appendArray(b, "verdicts", c.Verdicts, appendString)
	b = appendArray(b, "when", c.When, appendString)
	b = appendArray(b, "commits", c.Commits, appendString)
	if err != nil {
		return nil, err
	}
	if b, err = appendJSON(b, "lines", c.Lines); err != nil {
		return nil, err
	}
	b = appendArray(b, "outliers", c.Outliers, func(b []byte, o *float64) []byte {
		if o == nil {
			return append(b, "null"...)
		}
		return float(b, *o)
	})
	if err != nil {
		return nil, err
	}
	if b, err = appendJSON(b, "marks", c.Marks); err != nil {
		return nil, err
	}
	if b, err = appendJSON(b, "bands", c.Bands); err != nil {
		return nil, err
	}
	return append(b, '}'), nil
}

// appendArray appends ,"name": and xs as a JSON array, each element by
// each (null for a nil slice, as encoding/json).
func appendArray[T any](b []byte, name string, xs []T, each func([]byte, T) []byte) []byte {
	if xs == nil {
		return append(b, `,"`+name+`":null`...)
	}
	b = append(b, `,"`+name+`":[`...)
	for i, x := range xs {
		if i > 0 {
			b = append(b, ',')
		}
		b = each(b, x)
	}
	return append(b, ']')
}

// appendJSON appends ,"name": and v as encoding/json writes it.
func appendJSON(b []byte, name string, v any) ([]byte, error) {
	j, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	b = append(b, `,"`+name+`":`...)
	return append(b, j...), nil
}

// appendFloat appends f as encoding/json does ('f' format, or 'e' with a
// one-digit negative exponent trimmed, outside [1e-6, 1e21)); NaN and
// infinities are an error there too.
func appendFloat(b []byte, f float64, err error) ([]byte, error) {
	if err != nil {
		return b, err
	}
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return b, fmt.Errorf("json: unsupported value: %s", strconv.FormatFloat(f, 'g', -1, 64))
	}
	// A whole number (every x) as its integer: the same digits, without
	// the shortest-float search.
	if f == math.Trunc(f) && math.Abs(f) < 1e15 && (f != 0 || !math.Signbit(f)) {
		return strconv.AppendInt(b, int64(f), 10), nil
	}
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b, nil
}

// appendString appends s as json.Marshal writes a string: quotes,
// backslashes and control characters escaped, <, >, &, U+2028 and U+2029
// too (so that the JSON may stand in a script element), invalid UTF-8
// replaced.
func appendString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	// The run of bytes that need no escape (most strings: dates, commits,
	// verdicts) goes in at once.
	plain := 0
	for plain < len(s) && safeJSON[s[plain]] {
		plain++
	}
	b = append(b, s[:plain]...)
	for i := plain; i < len(s); i++ {
		if c := s[i]; c >= utf8.RuneSelf {
			r, size := utf8.DecodeRuneInString(s[i:])
			switch {
			case r == utf8.RuneError && size == 1:
				b = append(b, `\ufffd`...)
			case r == '\u2028' || r == '\u2029':
				b = append(b, `\u202`...)
				b = append(b, hex[r&0xf])
			default:
				b = append(b, s[i:i+size]...)
			}
			i += size - 1
			continue
		}
		switch c := s[i]; {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c == '\n':
			b = append(b, '\\', 'n')
		case c == '\r':
			b = append(b, '\\', 'r')
		case c == '\t':
			b = append(b, '\\', 't')
		case c == '\b':
			b = append(b, '\\', 'b')
		case c == '\f':
			b = append(b, '\\', 'f')
		case c < 0x20 || c == '<' || c == '>' || c == '&':
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		default:
			b = append(b, c)
		}
	}
	return append(b, '"')
}

// safeJSON marks the bytes appendString writes as they are: printable
// ASCII other than the quote, the backslash and <, >, &.
var safeJSON = func() (t [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\' && c != '<' && c != '>' && c != '&'
	}
	return t
}()
