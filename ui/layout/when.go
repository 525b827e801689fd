package layout

import (
	"context"
	"io"
	"strconv"
	"time"

	"github.com/a-h/templ"
)

// When is a time for people: relative ("3 min ago") with the exact time
// (to the second) on hover and in its datetime attribute. It, Verdict and
// State are written here, not in layout.templ: a listing draws them on
// every row, and templ's formatting, escaping and CSS class processing
// took a row's time of their own (1.2 µs a When, 0.44 now; `go test
// -bench When ./ui/layout`).
func When(t time.Time) templ.Component {
	return templ.ComponentFunc(func(_ context.Context, w io.Writer) error {
		var buf [160]byte
		b := append(buf[:0], `<time class="when" datetime="`...)
		b = t.UTC().AppendFormat(b, time.RFC3339)
		b = append(b, `" title="`...)
		b = appendTime(b, t)
		b = append(b, `">`...)
		b = appendAgo(b, t, time.Now())
		_, err := w.Write(append(b, "</time>"...))
		return err
	})
}

// Verdict draws a verdict as a coloured badge (nothing when empty).
func Verdict(v string) templ.Component {
	return templ.ComponentFunc(func(_ context.Context, w io.Writer) error {
		if v == "" {
			return nil
		}
		e := templ.EscapeString(v)
		_, err := io.WriteString(w, `<span class="badge verdict-`+e+`" title="verdict">`+e+`</span>`)
		return err
	})
}

// State draws a test state as a coloured badge.
func State(state string) templ.Component {
	return templ.ComponentFunc(func(_ context.Context, w io.Writer) error {
		e := templ.EscapeString(state)
		_, err := io.WriteString(w, `<span class="state state-`+e+`">`+e+`</span>`)
		return err
	})
}

// Time formats a timestamp for pages, to the second, in the server's
// time zone (When shows it relative, with this on hover).
func Time(t time.Time) string { return string(appendTime(nil, t)) }

// appendTime appends t as "2006-01-02 15:04:05 MST" in local time.
func appendTime(b []byte, t time.Time) []byte {
	t = t.Local()
	b = appendDate(b, t)
	h, m, s := t.Clock()
	b = append(b, ' ')
	b = append(appendTwo(append(appendTwo(append(appendTwo(b, h), ':'), m), ':'), s), ' ')
	zone, _ := t.Zone()
	return append(b, templ.EscapeString(zone)...)
}

// appendDate appends t's date as "2006-01-02" (in t's location).
func appendDate(b []byte, t time.Time) []byte {
	y, m, d := t.Date()
	if y < 0 || y > 9999 {
		return t.AppendFormat(b, "2006-01-02")
	}
	b = append(b, byte('0'+y/1000), byte('0'+y/100%10), byte('0'+y/10%10), byte('0'+y%10), '-')
	return appendTwo(append(appendTwo(b, int(m)), '-'), d)
}

// appendTwo appends 0 ≤ n < 100 in two digits.
func appendTwo(b []byte, n int) []byte { return append(b, byte('0'+n/10), byte('0'+n%10)) }

// Ago says how long before now t was, for people: "just now", "42 s ago",
// "3 min ago", "5 h ago", "2 days ago", and the date past 30 days; a time
// still to come is "in 3 min".
func Ago(t, now time.Time) string { return string(appendAgo(nil, t, now)) }

func appendAgo(b []byte, t, now time.Time) []byte {
	d := now.Sub(t)
	switch {
	case d < 0:
		return appendSpan(append(b, "in "...), -d)
	case d < 5*time.Second:
		return append(b, "just now"...)
	case d >= 30*24*time.Hour:
		return appendDate(b, t.Local())
	}
	return append(appendSpan(b, d), " ago"...)
}

// appendSpan appends a duration in its largest whole unit.
func appendSpan(b []byte, d time.Duration) []byte {
	switch {
	case d < time.Minute:
		return append(strconv.AppendInt(b, int64(d.Seconds()), 10), " s"...)
	case d < time.Hour:
		return append(strconv.AppendInt(b, int64(d.Minutes()), 10), " min"...)
	case d < 48*time.Hour:
		return append(strconv.AppendInt(b, int64(d.Hours()), 10), " h"...)
	}
	return append(strconv.AppendInt(b, int64(d.Hours()/24), 10), " days"...)
}

// Minute formats t as "2006-01-02 15:04" in local time: a point's time on
// a chart, where a page has hundreds.
func Minute(t time.Time) string {
	t = t.Local()
	var buf [16]byte
	b := appendDate(buf[:0], t)
	h, m, _ := t.Clock()
	return string(appendTwo(append(appendTwo(append(b, ' '), h), ':'), m))
}
