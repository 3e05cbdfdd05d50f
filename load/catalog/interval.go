package catalog

import (
	"strconv"
	"strings"

	"github.com/duckdb/duckdb-go/v2"
)

// formatInterval writes an interval as DuckDB's CLI (and CAST(… AS VARCHAR)) does: years and months, days, then
// the time as HH:MM:SS with the microseconds after a dot, trailing zeros cut ("1 year 2 months 3 days 04:05:06.5",
// "00:03:37.363555", "2 days"); a zero interval is "00:00:00".
func formatInterval(v duckdb.Interval) string {
	var parts []string
	unit := func(n int64, name string) {
		if n == 0 {
			return
		}
		s := strconv.FormatInt(n, 10) + " " + name
		if n != 1 && n != -1 {
			s += "s"
		}
		parts = append(parts, s)
	}
	unit(int64(v.Months/12), "year")
	unit(int64(v.Months%12), "month")
	unit(int64(v.Days), "day")
	if v.Micros != 0 || len(parts) == 0 {
		parts = append(parts, clock(v.Micros))
	}
	return strings.Join(parts, " ")
}

// clock is a span of microseconds as [-]HH:MM:SS[.ffffff]; hours may pass 24, as in DuckDB.
func clock(micros int64) string {
	var b strings.Builder
	u := uint64(micros)
	if micros < 0 {
		b.WriteByte('-')
		u = uint64(-(micros + 1)) + 1 // the smallest int64 too
	}
	const second, minute, hour = 1_000_000, 60 * 1_000_000, 3600 * 1_000_000
	two := func(n uint64) {
		if n < 10 {
			b.WriteByte('0')
		}
		b.WriteString(strconv.FormatUint(n, 10))
	}
	two(u / hour)
	b.WriteByte(':')
	two(u % hour / minute)
	b.WriteByte(':')
	two(u % minute / second)
	if frac := u % second; frac != 0 {
		f := strconv.FormatUint(frac+second, 10)[1:] // six digits, leading zeros kept
		b.WriteByte('.')
		b.WriteString(strings.TrimRight(f, "0"))
	}
	return b.String()
}
