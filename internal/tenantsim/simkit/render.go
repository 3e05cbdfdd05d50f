package simkit

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/seatlake/seatlake/internal/tenantsim/ids"
)

// What every emulator writes and reads the same way: URLs back to the host the client called, query options,
// JSON strings, Graph's and Dataverse's date formats, Retry-After.

// BaseURL is where this request was sent: nextLinks and @odata.context point back at it, so they work whether the
// simulator was started with Start or mounted on another server (httptest).
func BaseURL(r *http.Request) string {
	if r.TLS != nil {
		return "https://" + r.Host
	}
	return "http://" + r.Host
}

// NextLink is the request's own URL on the same host with a new $skiptoken: the other query options are kept as
// the client wrote them, as Graph does.
func NextLink(r *http.Request, token string) string {
	var sb strings.Builder
	sb.WriteString(BaseURL(r))
	sb.WriteString(r.URL.EscapedPath())
	sep := byte('?')
	for _, kv := range strings.Split(r.URL.RawQuery, "&") {
		if kv == "" || strings.HasPrefix(kv, "$skiptoken=") || strings.HasPrefix(strings.ToLower(kv), "%24skiptoken=") {
			continue
		}
		sb.WriteByte(sep)
		sb.WriteString(kv)
		sep = '&'
	}
	sb.WriteByte(sep)
	sb.WriteString("$skiptoken=")
	sb.WriteString(token)
	return sb.String()
}

// Query returns a system query option, matching its name case-insensitively as Graph does.
func Query(r *http.Request, name string) (string, bool) {
	for k, v := range r.URL.Query() {
		if strings.EqualFold(k, name) && len(v) > 0 {
			return v[0], true
		}
	}
	return "", false
}

// AppendJSONString quotes s for JSON. The generated tenant's strings need no escaping and are copied directly on
// hot paths; this is for messages and anything echoed from a request.
func AppendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c < 0x20:
			b = append(b, `\u00`...)
			b = append(b, ids.HexDigits[c>>4], ids.HexDigits[c&15])
		default:
			b = append(b, c)
		}
	}
	return append(b, '"')
}

// AppendDate writes a whole-second DateTimeOffset, as the directory stores createdDateTime.
func AppendDate(b []byte, us int64) []byte {
	b = append(b, '"')
	b = time.UnixMicro(us).UTC().AppendFormat(b, "2006-01-02T15:04:05Z")
	return append(b, '"')
}

// AppendTime7 writes a DateTimeOffset with seven fractional digits, as Graph writes sign-in times.
func AppendTime7(b []byte, us int64) []byte {
	b = append(b, '"')
	b = time.UnixMicro(us-us%1_000_000).UTC().AppendFormat(b, "2006-01-02T15:04:05")
	b = append(b, '.')
	b = AppendFrac7(b, us%1_000_000)
	return append(b, 'Z', '"')
}

// AppendFrac7 writes microseconds as seven digits (Graph's 100 ns ticks).
func AppendFrac7(b []byte, us int64) []byte {
	var d [7]byte
	d[6] = '0'
	for i := 5; i >= 0; i-- {
		d[i] = byte('0' + us%10)
		us /= 10
	}
	return append(b, d[:]...)
}

// WriteJSON answers the simulator's own endpoints (not a hot path).
func WriteJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}

// RetryAfterSeconds is the Retry-After of a service limit: whole seconds (RFC 9110 delay-seconds), rounded up so
// that a client coming back after it finds the window free; at least 1.
func RetryAfterSeconds(wait time.Duration) string { return RetryAfter(wait, time.Second) }

// RetryAfter is the Retry-After of a service limit in seconds, rounded up to a multiple of resolution (at least
// one): whole seconds for a resolution of 1 s, decimal fractions below that ("0.3", as Graph's own sample shows a
// fraction, "2.128"). A limits mode that runs the service's windows ten times faster answers in tenths, so the
// rounding keeps the same share of the window as the service's whole seconds. A fraction keeps its resolution's
// digits ("1.0" in tenths): a client reads the rounding step from the last digit, as it would from "1.3".
func RetryAfter(wait, resolution time.Duration) string {
	if resolution <= 0 {
		resolution = time.Second
	}
	steps := max(1, int64((wait+resolution-1)/resolution))
	if resolution%time.Second == 0 {
		return strconv.FormatInt(steps*int64(resolution/time.Second), 10)
	}
	digits := 0
	for r := resolution; r%time.Second != 0 && digits < 9; r *= 10 {
		digits++
	}
	return strconv.FormatFloat((time.Duration(steps) * resolution).Seconds(), 'f', digits, 64)
}
