package table

import (
	"fmt"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
)

// ParseTimestamp parses an OData DateTimeOffset as Graph and Dataverse write it ("2020-03-13T19:15:41.6195833Z", fraction optional,
// "Z" or a numeric offset) into UTC microseconds since the epoch. It is on the hot path of event decoding, so it
// avoids time.Parse (sign-ins and audit records are the hot paths); anything it does not recognise falls back to time.Parse, which also rejects garbage.
func ParseTimestamp[T string | []byte](s T) (arrow.Timestamp, error) {
	if len(s) >= 20 && s[4] == '-' && s[7] == '-' && (s[10] == 'T' || s[10] == 't') && s[13] == ':' && s[16] == ':' {
		y, ok1 := digits(s[0:4])
		mo, ok2 := digits(s[5:7])
		d, ok3 := digits(s[8:10])
		h, ok4 := digits(s[11:13])
		mi, ok5 := digits(s[14:16])
		se, ok6 := digits(s[17:19])
		if ok1 && ok2 && ok3 && ok4 && ok5 && ok6 && mo >= 1 && mo <= 12 && d >= 1 && d <= 31 && h < 24 && mi < 60 && se < 61 {
			i := 19
			var frac int64
			n := 0
			if s[i] == '.' {
				i++
				for i < len(s) && s[i] >= '0' && s[i] <= '9' {
					if n < 6 {
						frac = frac*10 + int64(s[i]-'0')
						n++
					}
					i++
				}
				for ; n < 6; n++ {
					frac *= 10
				}
			}
			if i == len(s)-1 && (s[i] == 'Z' || s[i] == 'z') {
				days := daysFromCivil(y, mo, d)
				secs := days*86400 + int64(h)*3600 + int64(mi)*60 + int64(se)
				return arrow.Timestamp(secs*1_000_000 + frac), nil
			}
		}
	}
	t, err := time.Parse(time.RFC3339Nano, string(s))
	if err != nil {
		return 0, fmt.Errorf("parsing timestamp %q: %w", s, err)
	}
	return arrow.Timestamp(t.UnixMicro()), nil
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
