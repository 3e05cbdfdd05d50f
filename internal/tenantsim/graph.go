package tenantsim

import (
	"cmp"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/seatlake/seatlake/internal/tenantsim/ids"
)

// reply is a response being built. Every answer is rendered into a reused buffer first, so it can be sent with a
// Content-Length (a truncated body is then visible to the client) or cut short by a fault.
type reply struct {
	status      int
	contentType string
	b           []byte
	// clientReqID is the client-request-id the client sent (the request id when it sent none), which Graph echoes
	// in the client-request-id header and in an error's innerError.
	clientReqID string
}

const (
	odataJSON = "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8"
	plainJSON = "application/json; charset=utf-8"
)

// endpoint renders the answer to r into rep (and may set headers on w).
type endpoint func(w http.ResponseWriter, r *http.Request, rep *reply)

// serve wraps an endpoint with what every request goes through, in the services' order: injected faults, the
// bearer token (when aud is set), service limits, then the endpoint.
func (s *Sim) serve(family, aud string, h endpoint) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		reqID := s.requestID()
		w.Header().Set("request-id", reqID)
		if aud == audGraph {
			w.Header().Set("OData-Version", "4.0")
		}
		if c := r.Header.Get("client-request-id"); c != "" {
			w.Header().Set("client-request-id", c)
		} else {
			w.Header().Set("client-request-id", reqID)
		}
		f, faulty := s.faults.take(r.URL.Path)
		if faulty && !s.connectionFault(w, r, f, family) {
			return
		}
		rep := s.getReply()
		defer s.pages.Put(rep)
		rep.clientReqID = w.Header().Get("client-request-id")
		status := faultStatus(f, faulty)
		switch {
		case status == http.StatusTooManyRequests:
			// An injected 429 sends its Delay as given, a fraction of a second too (the form of Microsoft's own
			// sample): the test that injects it chose it.
			d := f.Delay
			if d <= 0 {
				d = time.Second
			}
			w.Header().Set("Retry-After", strconv.FormatFloat(math.Ceil(d.Seconds()*1000)/1000, 'f', -1, 64))
			s.tooMany(rep, reqID)
		case status != 0:
			gf := graphFaults[status]
			s.graphError(rep, status, gf.code, gf.message, reqID)
		case aud != "" && !s.authorize(w, r, aud, rep, reqID):
		case aud == audGraph && s.graphPermission(family, r) != "":
			s.graphError(rep, http.StatusForbidden, "Authorization_RequestDenied", "Insufficient privileges to complete the operation.", reqID)
		case !s.admit(w, r, family, rep, reqID):
		default:
			h(w, r, rep)
		}
		s.stats.request(family, rep.status)
		s.log.Debug("request", "method", r.Method, "path", r.URL.Path, "status", rep.status, "bytes", len(rep.b))
		writeReply(w, rep, faulty && f.Kind == TruncatedBody)
	}
}

// graphFaults are Graph's answers to the injected 5xx faults.
var graphFaults = map[int]struct{ code, message string }{
	http.StatusInternalServerError: {"InternalServerError", "An internal server error occurred. Please retry."},
	http.StatusServiceUnavailable:  {"ServiceUnavailable", "The service is temporarily unavailable. Please retry."},
	http.StatusGatewayTimeout:      {"GatewayTimeout", "The operation timed out."},
}

// connectionFault applies what an injected fault does before any answer, the same in every service: a reset
// connection, a slow page, revoked tokens. It counts the fault, and returns false when the request is over.
func (s *Sim) connectionFault(w http.ResponseWriter, r *http.Request, f Fault, family string) bool {
	s.stats.fault(f.Kind)
	s.log.Debug("injecting fault", "path", r.URL.Path, "kind", f.Kind)
	switch f.Kind {
	case ConnReset:
		s.stats.request(family, 0)
		resetConn(w)
		return false
	case SlowPage:
		t := time.NewTimer(f.Delay)
		defer t.Stop()
		select {
		case <-t.C:
		case <-r.Context().Done():
			s.stats.request(family, 0)
			return false
		}
	case ExpireTokens:
		s.tokens.expireAll()
	}
	return true
}

// faultStatus is the HTTP status an injected fault answers with, 0 when it is not a status fault.
func faultStatus(f Fault, faulty bool) int {
	if !faulty {
		return 0
	}
	switch f.Kind {
	case Status500:
		return http.StatusInternalServerError
	case Status503:
		return http.StatusServiceUnavailable
	case Status504:
		return http.StatusGatewayTimeout
	case Throttle429:
		return http.StatusTooManyRequests
	}
	return 0
}

// writeReply sends a rendered answer with its Content-Length; truncate sends half of the body and breaks the
// connection: net/http closes it quietly and the client reads an unexpected EOF.
func writeReply(w http.ResponseWriter, rep *reply, truncate bool) {
	w.Header().Set("Content-Type", rep.contentType)
	w.Header().Set("Content-Length", strconv.Itoa(len(rep.b)))
	w.WriteHeader(rep.status)
	if truncate {
		w.Write(rep.b[:len(rep.b)/2])
		if fl, ok := w.(http.Flusher); ok {
			fl.Flush()
		}
		panic(http.ErrAbortHandler)
	}
	w.Write(rep.b)
}

func (s *Sim) getReply() *reply {
	rep, _ := s.pages.Get().(*reply)
	if rep == nil {
		rep = &reply{b: make([]byte, 0, 64<<10)}
	}
	rep.status, rep.contentType, rep.b, rep.clientReqID = http.StatusOK, odataJSON, rep.b[:0], ""
	return rep
}

// requestID is Graph's request-id header and innerError field: unique per request, deterministic per run.
func (s *Sim) requestID() string {
	n := s.reqSeq.Add(1)
	return ids.GUID(ids.Hash(s.cfg.Seed, 0x4e51, n), ids.Hash(s.cfg.Seed, 0x4e52, n))
}

// resetConn breaks the connection with a TCP RST after the first bytes of a status line. Those bytes matter: an
// HTTP client that sees a reused connection close before any byte of the answer retries an idempotent request on
// its own (Go's does), and the fault would never reach the code under test.
func resetConn(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic(http.ErrAbortHandler)
	}
	conn, buf, err := hj.Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	buf.WriteString("HTTP/1.1 ")
	buf.Flush()
	if tc, ok := conn.(interface{ SetLinger(int) error }); ok {
		tc.SetLinger(0)
	}
	conn.Close()
}

// graphError renders Graph's error body ("Microsoft Graph error responses and resource types", and the examples of
// "Advanced query capabilities on directory objects"): code, message, and innerError with the date, the request-id
// and the client-request-id the client sent (the request id when it sent none).
func (s *Sim) graphError(rep *reply, status int, code, message, reqID string) {
	rep.status, rep.contentType = status, plainJSON
	b := append(rep.b[:0], `{"error":{"code":`...)
	b = appendJSONString(b, code)
	b = append(b, `,"message":`...)
	b = appendJSONString(b, message)
	b = append(b, `,"innerError":{"date":"`...)
	b = s.clock().UTC().AppendFormat(b, "2006-01-02T15:04:05")
	b = append(b, `","request-id":"`...)
	b = append(b, reqID...)
	b = append(b, `","client-request-id":`...)
	b = appendJSONString(b, cmp.Or(rep.clientReqID, reqID))
	rep.b = append(b, `}}}`...)
}

// tooMany renders the body of Graph's 429 ("Microsoft Graph throttling guidance", sample response); the caller has
// set Retry-After.
func (s *Sim) tooMany(rep *reply, reqID string) {
	rep.status, rep.contentType = http.StatusTooManyRequests, plainJSON
	b := append(rep.b[:0], `{"error":{"code":"TooManyRequests","innerError":{"code":"429","date":"`...)
	b = s.clock().UTC().AppendFormat(b, "2006-01-02T15:04:05")
	b = append(b, `","message":"Please retry after","request-id":"`...)
	b = append(b, reqID...)
	rep.b = append(b, `","status":"429"},"message":"Please retry again later."}}`...)
}

// retryAfterSeconds is the Retry-After of a service limit: whole seconds (RFC 9110 delay-seconds), rounded up so
// that a client coming back after it finds the window free; at least 1.
func retryAfterSeconds(wait time.Duration) string {
	return strconv.FormatInt(max(1, int64((wait+time.Second-1)/time.Second)), 10)
}

func (s *Sim) graphNotFound(w http.ResponseWriter, r *http.Request, rep *reply) {
	seg := r.URL.Path[strings.LastIndexByte(r.URL.Path, '/')+1:]
	s.graphError(rep, http.StatusNotFound, "Request_ResourceNotFound", "Resource not found for the segment '"+seg+"'.", w.Header().Get("request-id"))
}

// notPremium is the 403 of signInActivity and sign-in logs on a tenant without Entra ID P1/P2 (reference §2a).
func (s *Sim) notPremium(w http.ResponseWriter, rep *reply) {
	s.graphError(rep, http.StatusForbidden, "Authentication_RequestFromNonPremiumTenantOrB2CTenant",
		"Neither tenant is B2C or tenant doesn't have premium license", w.Header().Get("request-id"))
}

// badRequest is a 400 with Graph's body.
func (s *Sim) badRequest(w http.ResponseWriter, rep *reply, code, message string) {
	s.graphError(rep, http.StatusBadRequest, code, message, w.Header().Get("request-id"))
}

// baseURL is where this request was sent: nextLinks and @odata.context point back at it, so they work whether the
// simulator was started with Start or mounted on another server (httptest).
func baseURL(r *http.Request) string {
	if r.TLS != nil {
		return "https://" + r.Host
	}
	return "http://" + r.Host
}

// Paging tokens ($skiptoken) are opaque to clients: base64url of a kind byte, varint fields and a check value,
// so a client that edits or invents one gets a 400, as from Graph.
func (s *Sim) sealToken(kind byte, vals ...int64) string {
	b := make([]byte, 0, 48)
	b = append(b, kind)
	for _, v := range vals {
		b = binary.AppendVarint(b, v)
	}
	b = binary.BigEndian.AppendUint32(b, uint32(ids.Hash(s.cfg.Seed, 0x70c, uint64(kind), ids.Mix(uint64(len(b))), checksum(b))))
	return base64.RawURLEncoding.EncodeToString(b)
}

func (s *Sim) openToken(kind byte, tok string, n int) ([]int64, bool) {
	b, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil || len(b) < 5 || b[0] != kind {
		return nil, false
	}
	body, sum := b[:len(b)-4], binary.BigEndian.Uint32(b[len(b)-4:])
	if sum != uint32(ids.Hash(s.cfg.Seed, 0x70c, uint64(kind), ids.Mix(uint64(len(body))), checksum(body))) {
		return nil, false
	}
	vals := make([]int64, 0, n)
	for p := body[1:]; len(p) > 0; {
		v, k := binary.Varint(p)
		if k <= 0 {
			return nil, false
		}
		vals, p = append(vals, v), p[k:]
	}
	return vals, len(vals) == n
}

func checksum(b []byte) uint64 {
	h := uint64(len(b))
	for _, c := range b {
		h = ids.Mix(h ^ uint64(c))
	}
	return h
}

// nextLink is the request's own URL on the same host with a new $skiptoken: the other query options are kept as
// the client wrote them, as Graph does.
func nextLink(r *http.Request, token string) string {
	var sb strings.Builder
	sb.WriteString(baseURL(r))
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

// queryOptions checks a request's OData system query options ($-prefixed) against those an endpoint supports,
// with Graph's answer for the rest. Other parameters are ignored, as by Graph.
func (s *Sim) queryOptions(w http.ResponseWriter, r *http.Request, rep *reply, allowed ...string) bool {
	for k := range r.URL.Query() {
		if !strings.HasPrefix(k, "$") {
			continue
		}
		ok := false
		for _, a := range allowed {
			ok = ok || strings.EqualFold(k, a)
		}
		if !ok {
			if strings.EqualFold(k, "$skip") {
				s.badRequest(w, rep, "Request_BadRequest", "'$skip' is not supported by the service.")
			} else {
				s.badRequest(w, rep, "Request_UnsupportedQuery", "Query option '"+k+"' is not supported by this simulated endpoint.")
			}
			return false
		}
	}
	return true
}

// query returns a system query option, matching its name case-insensitively as Graph does.
func query(r *http.Request, name string) (string, bool) {
	for k, v := range r.URL.Query() {
		if strings.EqualFold(k, name) && len(v) > 0 {
			return v[0], true
		}
	}
	return "", false
}

// appendJSONString quotes s for JSON. The generated tenant's strings need no escaping and are copied directly on
// hot paths; this is for messages and anything echoed from a request.
func appendJSONString(b []byte, s string) []byte {
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

// appendDate writes a whole-second DateTimeOffset, as the directory stores createdDateTime.
func appendDate(b []byte, us int64) []byte {
	b = append(b, '"')
	b = time.UnixMicro(us).UTC().AppendFormat(b, "2006-01-02T15:04:05Z")
	return append(b, '"')
}

// appendTime7 writes a DateTimeOffset with seven fractional digits, as Graph writes sign-in times.
func appendTime7(b []byte, us int64) []byte {
	b = append(b, '"')
	b = time.UnixMicro(us-us%1_000_000).UTC().AppendFormat(b, "2006-01-02T15:04:05")
	b = append(b, '.')
	b = appendFrac7(b, us%1_000_000)
	return append(b, 'Z', '"')
}

// appendFrac7 writes microseconds as seven digits (Graph's 100 ns ticks).
func appendFrac7(b []byte, us int64) []byte {
	var d [7]byte
	d[6] = '0'
	for i := 5; i >= 0; i-- {
		d[i] = byte('0' + us%10)
		us /= 10
	}
	return append(b, d[:]...)
}

func errorf(format string, args ...any) error { return fmt.Errorf(format, args...) }
