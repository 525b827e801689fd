package ingest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"unicode/utf8"
)

// DecodeSamples decodes a JSON samples batch into s as json.Unmarshal would
// (keys matched without regard to case, unknown keys checked and skipped,
// null leaving a number or string as it is and emptying an array), several
// times faster: a batch is almost all numbers, and encoding/json, which
// scans the body before decoding it and again at each level, spent more on
// a sample than the database took to store it.
func DecodeSamples(data []byte, s *Samples) error {
	d := decoder{data: data}
	if !d.null() {
		if err := d.object(s.field(&d)); err != nil {
			return err
		}
	}
	if d.ws(); d.off != len(d.data) {
		return d.errorf("data after the batch")
	}
	return nil
}

func (s *Samples) field(d *decoder) func(key []byte) error {
	return func(key []byte) error {
		var err error
		switch {
		case fold(key, "series"):
			s.Series, err = d.series(s.Series)
		case fold(key, "test_id"):
			if !d.null() {
				s.TestID, err = d.int()
			}
		case fold(key, "host"):
			err = d.stringInto(&s.Host)
		case fold(key, "batch"):
			err = d.stringInto(&s.Batch)
		default:
			err = d.skip(0)
		}
		return err
	}
}

func (d *decoder) series(dst []Series) ([]Series, error) {
	if d.null() {
		return nil, nil
	}
	if err := d.expect('['); err != nil {
		return nil, err
	}
	// As encoding/json: elements already there are decoded into.
	i := 0
	for ; ; i++ {
		if d.ws(); d.peek() == ']' {
			d.off++
			break
		}
		if i > 0 {
			if err := d.expect(','); err != nil {
				return nil, err
			}
		}
		dst = grow(dst, i)
		if d.null() {
			continue
		}
		ser := &dst[i]
		err := d.object(func(key []byte) error {
			var err error
			switch {
			case fold(key, "ts"):
				ser.TS, err = numbers(d, ser.TS, d.int)
			case fold(key, "values"):
				ser.Values, err = numbers(d, ser.Values, d.float)
			case fold(key, "metric"):
				err = d.stringInto(&ser.Metric)
			default:
				err = d.skip(0)
			}
			return err
		})
		if err != nil {
			return nil, err
		}
	}
	if i == 0 {
		return []Series{}, nil
	}
	return dst[:i], nil
}

// numbers reads an array of numbers into dst's backing array, as
// encoding/json would: a null element keeps what was there (zero if new).
func numbers[T int64 | float64](d *decoder, dst []T, parse func() (T, error)) ([]T, error) {
	if d.null() {
		return nil, nil
	}
	if err := d.expect('['); err != nil {
		return nil, err
	}
	if dst == nil {
		// A number a comma, about: no growing and copying as it fills.
		if end := bytes.IndexByte(d.data[d.off:], ']'); end > 0 {
			dst = make([]T, 0, bytes.Count(d.data[d.off:d.off+end], []byte{','})+1)
		}
	}
	i := 0
	for ; ; i++ {
		if d.ws(); d.peek() == ']' {
			d.off++
			break
		}
		if i > 0 {
			if err := d.expect(','); err != nil {
				return nil, err
			}
		}
		dst = grow(dst, i)
		if d.null() {
			continue
		}
		v, err := parse()
		if err != nil {
			return nil, err
		}
		dst[i] = v
	}
	if i == 0 {
		return []T{}, nil
	}
	return dst[:i], nil
}

// grow makes room for element i (at most len(dst)) as encoding/json does:
// within the capacity, what was there stays.
func grow[T any](dst []T, i int) []T {
	switch {
	case i < len(dst):
		return dst
	case i < cap(dst):
		return dst[:i+1]
	}
	var zero T
	return append(dst, zero)
}

// maxDepth is encoding/json's limit on nesting.
const maxDepth = 10000

// decoder walks JSON text, checking it as it goes.
type decoder struct {
	data []byte
	off  int
}

func (d *decoder) errorf(format string, args ...any) error {
	return fmt.Errorf("offset %d: %s", d.off, fmt.Sprintf(format, args...))
}

func (d *decoder) peek() byte {
	if d.off < len(d.data) {
		return d.data[d.off]
	}
	return 0
}

func (d *decoder) ws() {
	for d.off < len(d.data) {
		switch d.data[d.off] {
		case ' ', '\t', '\n', '\r':
			d.off++
		default:
			return
		}
	}
}

// expect consumes c, after white space.
func (d *decoder) expect(c byte) error {
	d.ws()
	if d.peek() != c {
		if d.off >= len(d.data) {
			return d.errorf("unexpected end of JSON input")
		}
		return d.errorf("want %q, found %q", c, d.data[d.off])
	}
	d.off++
	return nil
}

// literal consumes word if it comes next.
func (d *decoder) literal(word string) bool {
	if len(d.data)-d.off >= len(word) && string(d.data[d.off:d.off+len(word)]) == word {
		d.off += len(word)
		return true
	}
	return false
}

// null consumes a null, after white space, if one comes next.
func (d *decoder) null() bool {
	d.ws()
	return d.peek() == 'n' && d.literal("null")
}

// object reads an object; field is called with each key and must consume
// the value that follows.
func (d *decoder) object(field func(key []byte) error) error {
	if err := d.expect('{'); err != nil {
		return err
	}
	if d.ws(); d.peek() == '}' {
		d.off++
		return nil
	}
	for {
		d.ws()
		key, err := d.str()
		if err != nil {
			return err
		}
		if err := d.expect(':'); err != nil {
			return err
		}
		if err := field(key); err != nil {
			return err
		}
		d.ws()
		switch c := d.peek(); c {
		case ',':
			d.off++
		case '}':
			d.off++
			return nil
		default:
			return d.errorf("want ',' or '}' after an object member")
		}
	}
}

// str reads a string. The common case (no escapes, valid UTF-8) is
// returned as it stands; the rest is left to encoding/json.
func (d *decoder) str() ([]byte, error) {
	if d.peek() != '"' {
		return nil, d.errorf("want a string")
	}
	start := d.off
	d.off++
	plain := true
	for d.off < len(d.data) {
		switch c := d.data[d.off]; {
		case c == '"':
			d.off++
			raw := d.data[start+1 : d.off-1]
			if plain && utf8.Valid(raw) {
				return raw, nil
			}
			var s string
			if err := json.Unmarshal(d.data[start:d.off], &s); err != nil {
				return nil, d.errorf("string: %v", err)
			}
			return []byte(s), nil
		case c == '\\':
			plain = false
			d.off += 2
		case c < 0x20:
			return nil, d.errorf("control character in a string")
		default:
			d.off++
		}
	}
	return nil, d.errorf("unterminated string")
}

// stringInto reads a string into dst; null leaves dst as it is.
func (d *decoder) stringInto(dst *string) error {
	if d.null() {
		return nil
	}
	s, err := d.str()
	if err != nil {
		return err
	}
	*dst = string(s)
	return nil
}

// number reads a JSON number and returns its text.
func (d *decoder) number() ([]byte, error) {
	start := d.off
	digits := func() bool {
		n := d.off
		for d.off < len(d.data) && d.data[d.off] >= '0' && d.data[d.off] <= '9' {
			d.off++
		}
		return d.off > n
	}
	if d.peek() == '-' {
		d.off++
	}
	switch c := d.peek(); {
	case c == '0':
		d.off++
	case c >= '1' && c <= '9':
		digits()
	default:
		return nil, d.errorf("want a number")
	}
	if d.peek() == '.' {
		d.off++
		if !digits() {
			return nil, d.errorf("want a digit after the decimal point")
		}
	}
	if c := d.peek(); c == 'e' || c == 'E' {
		d.off++
		if c := d.peek(); c == '+' || c == '-' {
			d.off++
		}
		if !digits() {
			return nil, d.errorf("want a digit in the exponent")
		}
	}
	return d.data[start:d.off], nil
}

// int reads a number that must be a whole int64, as encoding/json's
// strconv.ParseInt(s, 10, 64) would take it.
func (d *decoder) int() (int64, error) {
	b, err := d.number()
	if err != nil {
		return 0, err
	}
	neg := b[0] == '-'
	digits := b
	if neg {
		digits = b[1:]
	}
	var u uint64
	for _, c := range digits {
		if c < '0' || c > '9' || u > (math.MaxUint64-9)/10 {
			return 0, d.errorf("number %s is not an int64", b)
		}
		u = u*10 + uint64(c-'0')
	}
	switch {
	case !neg && u <= math.MaxInt64:
		return int64(u), nil
	case neg && u <= 1<<63:
		return int64(-u), nil
	}
	return 0, d.errorf("number %s is not an int64", b)
}

// float reads a number as a float64; one out of range is an error.
func (d *decoder) float() (float64, error) {
	b, err := d.number()
	if err != nil {
		return 0, err
	}
	v, err := strconv.ParseFloat(string(b), 64)
	if err != nil {
		return 0, d.errorf("number %s is not a float64", b)
	}
	return v, nil
}

// skip checks and steps over one value of any kind.
func (d *decoder) skip(depth int) error {
	if depth >= maxDepth {
		return d.errorf("exceeded max depth")
	}
	d.ws()
	switch c := d.peek(); {
	case c == '{':
		return d.object(func([]byte) error { return d.skip(depth + 1) })
	case c == '[':
		d.off++
		for i := 0; ; i++ {
			if d.ws(); d.peek() == ']' && i == 0 {
				d.off++
				return nil
			}
			if err := d.skip(depth + 1); err != nil {
				return err
			}
			d.ws()
			switch d.peek() {
			case ',':
				d.off++
			case ']':
				d.off++
				return nil
			default:
				return d.errorf("want ',' or ']' after an array element")
			}
		}
	case c == '"':
		_, err := d.str()
		return err
	case c == '-' || c >= '0' && c <= '9':
		_, err := d.number()
		return err
	case d.literal("true"), d.literal("false"), d.literal("null"):
		return nil
	}
	if d.off >= len(d.data) {
		return d.errorf("unexpected end of JSON input")
	}
	return d.errorf("invalid character %q", d.data[d.off])
}

// fold matches a key as encoding/json matches field names.
func fold(key []byte, name string) bool {
	return bytes.EqualFold(key, []byte(name))
}
