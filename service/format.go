package service

import "github.com/pitwall/pitwall/internal/units"

// Bytes formats a size for people with IEC prefixes ("1.5 MiB"), as every
// page does (units.Format).
func Bytes(n int64) string { return units.Format(float64(n), "B") }
