package layout

import (
	"strconv"
	"time"
)

func itoa(n int) string { return strconv.Itoa(n) }

// Time formats a timestamp for pages, to the millisecond.
func Time(t time.Time) string { return t.Local().Format("2006-01-02 15:04:05.000") }

// Number formats a KPI value without needless digits.
func Number(v float64) string { return strconv.FormatFloat(v, 'g', 6, 64) }
