package table

import (
	"fmt"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
)

// ParseTimestamp parses an OData DateTimeOffset as Graph and Dataverse write it ("2020-03-13T19:15:41.6195833Z", fraction optional,
// "Z" or a numeric offset) into UTC microseconds since the epoch. It is on the hot path of event decoding, so it
// avoids time.Parse (sign-ins and audit records are the hot paths); anything it does not recognise falls back to time.Parse, which also rejects garbage.
// Its steps hand back plain integers: returning the six fields as one struct made it up to a third slower
// (BenchmarkParseTimestamp).
func ParseTimestamp[T string | []byte](s T) (arrow.Timestamp, error) {
	if hasDateTimeShape(s) {
		days, okDate := civilDays(s)
		secs, okTime := clockSeconds(s)
		frac, end := fraction(s, 19)
		if okDate && okTime && isZulu(s, end) {
			return arrow.Timestamp((days*86400+secs)*1_000_000 + frac), nil
		}
	}
	t, err := time.Parse(time.RFC3339Nano, string(s))
	if err != nil {
		return 0, fmt.Errorf("parsing timestamp %q: %w", s, err)
	}
	return arrow.Timestamp(t.UnixMicro()), nil
}

// hasDateTimeShape reports whether s has the separators of "YYYY-MM-DDThh:mm:ss" and at least a zone after them.
func hasDateTimeShape[T string | []byte](s T) bool {
	return len(s) >= 20 && s[4] == '-' && s[7] == '-' && (s[10] == 'T' || s[10] == 't') && s[13] == ':' && s[16] == ':'
}

// isZulu reports whether s ends at i with the zone "Z".
func isZulu[T string | []byte](s T, i int) bool {
	return i == len(s)-1 && (s[i] == 'Z' || s[i] == 'z')
}

// civilDays reads the date of "YYYY-MM-DDThh:mm:ss" (s has that shape) as days since 1970-01-01; ok is false
// when a field is not all digits or out of range (the day is checked against 31 only).
func civilDays[T string | []byte](s T) (days int64, ok bool) {
	y, okY := digits(s[0:4])
	mo, okMo := digits(s[5:7])
	d, okD := digits(s[8:10])
	if !okY || !okMo || !okD || mo < 1 || mo > 12 || d < 1 || d > 31 {
		return 0, false
	}
	return daysFromCivil(y, mo, d), true
}

// clockSeconds reads the time of day of "YYYY-MM-DDThh:mm:ss" (s has that shape) as seconds; ok is false when a
// field is not all digits or out of range (a second of 60, a leap second, is let through).
func clockSeconds[T string | []byte](s T) (secs int64, ok bool) {
	h, okH := digits(s[11:13])
	mi, okMi := digits(s[14:16])
	se, okS := digits(s[17:19])
	if !okH || !okMi || !okS || h > 23 || mi > 59 || se > 60 {
		return 0, false
	}
	return int64(h*3600 + mi*60 + se), true
}

// fraction reads an optional ".ddd…" at s[i] as microseconds (digits past the sixth are dropped, not rounded) and
// returns the index after it (i when there is none).
func fraction[T string | []byte](s T, i int) (micros int64, end int) {
	if s[i] != '.' {
		return 0, i
	}
	n := 0
	for i++; i < len(s) && s[i] >= '0' && s[i] <= '9'; i++ {
		if n < 6 {
			micros = micros*10 + int64(s[i]-'0')
			n++
		}
	}
	for ; n < 6; n++ {
		micros *= 10
	}
	return micros, i
}

func digits[T string | []byte](s T) (int, bool) {
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

// daysFromCivil is Howard Hinnant's algorithm: days since 1970-01-01 of a proleptic Gregorian date.
func daysFromCivil(y, m, d int) int64 {
	if m <= 2 {
		y--
	}
	era := y / 400
	if y < 0 && y%400 != 0 {
		era = (y - 399) / 400
	}
	yoe := y - era*400
	mp := (m + 9) % 12
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return int64(era)*146097 + int64(doe) - 719468
}
