package trends

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"unicode/utf8"
)

// MarshalJSON writes the chart as encoding/json would (the same fields
// in the same order, numbers in its format), the per-point arrays by hand:
// reflection over hundreds of points a chart was most of the page's JSON
// cost on a long history.
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
	floats := func(name string, xs []float64) {
		b = append(b, `,"`+name+`":[`...)
		for i, x := range xs {
			if i > 0 {
				b = append(b, ',')
			}
			if b, err = appendFloat(b, x, err); err != nil {
				return
			}
		}
		b = append(b, ']')
	}
	strings := func(name string, xs []string) {
		b = append(b, `,"`+name+`":[`...)
		for i, x := range xs {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, x)
		}
		b = append(b, ']')
	}
	floats("x", c.X)
	floats("y", c.Y)
	b = append(b, `,"ids":[`...)
	for i, id := range c.IDs {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendInt(b, id, 10)
	}
	b = append(b, `],"line":[`...)
	for i, l := range c.Line {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendInt(b, int64(l), 10)
	}
	b = append(b, ']')
	strings("verdicts", c.Verdicts)
	strings("when", c.When)
	strings("commits", c.Commits)
	if err != nil {
		return nil, err
	}
	if b, err = appendJSON(b, "lines", c.Lines); err != nil {
		return nil, err
	}
	b = append(b, `,"outliers":[`...)
	for i, o := range c.Outliers {
		if i > 0 {
			b = append(b, ',')
		}
		if o == nil {
			b = append(b, "null"...)
		} else if b, err = appendFloat(b, *o, err); err != nil {
			return nil, err
		}
	}
	b = append(b, ']')
	if b, err = appendJSON(b, "marks", c.Marks); err != nil {
		return nil, err
	}
	if b, err = appendJSON(b, "bands", c.Bands); err != nil {
		return nil, err
	}
	return append(b, '}'), nil
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

// appendString appends s as encoding/json writes a string: quotes,
// backslashes and control characters escaped, invalid UTF-8 replaced
// (encoding/json escapes <, >, &, U+2028 and U+2029 of a Marshaler's
// output itself).
func appendString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= utf8.RuneSelf {
			r, size := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && size == 1 {
				b = append(b, `\ufffd`...)
			} else {
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
		case c < 0x20:
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		default:
			b = append(b, c)
		}
	}
	return append(b, '"')
}
