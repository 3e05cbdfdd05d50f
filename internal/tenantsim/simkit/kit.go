package simkit

import (
	"encoding/base64"
	"encoding/binary"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/seatlake/seatlake/internal/tenantsim/ids"
)

// Kit is what the emulators of one simulator share: the seed their ids and page tokens derive from, the request
// sequence, the queue of injected faults, the counters, a pool of reply buffers, the wall clock of token expiry
// and service limits, and the logger.
type Kit struct {
	seed   int64
	now    func() time.Time
	log    *slog.Logger
	faults faultQueue
	stats  counters
	reqSeq atomic.Uint64
	pages  sync.Pool // *Reply
}

// NewKit makes the kit of one simulator; now is read at every use, so a test may change what it returns.
func NewKit(seed int64, now func() time.Time, log *slog.Logger) *Kit {
	k := &Kit{seed: seed, now: now, log: log}
	k.stats.init()
	return k
}

// Seed is the simulator's seed.
func (k *Kit) Seed() int64 { return k.seed }

// Now is the wall clock of token expiry, service limits and error dates.
func (k *Kit) Now() time.Time { return k.now() }

// Log is the simulator's logger.
func (k *Kit) Log() *slog.Logger { return k.log }

// Seq is the next number of the request sequence, which request ids and error trace ids derive from.
func (k *Kit) Seq() uint64 { return k.reqSeq.Add(1) }

// Count counts an answered request of a path family (token, users, dataverse.audits, …) and its status.
func (k *Kit) Count(family string, status int) { k.stats.request(family, status) }

// CountLimit counts a 429 of a Dynamics service protection limit, by the limit's error code.
func (k *Kit) CountLimit(code string) { k.stats.limit(code) }

// PutReply returns a reply's buffer to the pool once it is written.
func (k *Kit) PutReply(rep *Reply) { k.pages.Put(rep) }

// Reply is a response being built. Every answer is rendered into a reused buffer (B) first, so it can be sent with
// a Content-Length (a truncated body is then visible to the client) or cut short by a fault.
type Reply struct {
	Status      int
	ContentType string
	B           []byte
	// clientReqID is the client-request-id the client sent (the request id when it sent none), which Graph echoes
	// in the client-request-id header and in an error's innerError.
	ClientReqID string
}

const (
	ODataJSON = "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8"
	PlainJSON = "application/json; charset=utf-8"
)

// Endpoint renders the answer to r into rep (and may set headers on w).
type Endpoint func(w http.ResponseWriter, r *http.Request, rep *Reply)

// WriteReply sends a rendered answer with its Content-Length; truncate sends half of the body and breaks the
// connection: net/http closes it quietly and the client reads an unexpected EOF.
func WriteReply(w http.ResponseWriter, rep *Reply, truncate bool) {
	w.Header().Set("Content-Type", rep.ContentType)
	w.Header().Set("Content-Length", strconv.Itoa(len(rep.B)))
	w.WriteHeader(rep.Status)
	if truncate {
		w.Write(rep.B[:len(rep.B)/2])
		if fl, ok := w.(http.Flusher); ok {
			fl.Flush()
		}
		panic(http.ErrAbortHandler)
	}
	w.Write(rep.B)
}

// GetReply is an empty reply (200, OData JSON) with a buffer from the pool.
func (k *Kit) GetReply() *Reply {
	rep, _ := k.pages.Get().(*Reply)
	if rep == nil {
		rep = &Reply{B: make([]byte, 0, 64<<10)}
	}
	rep.Status, rep.ContentType, rep.B, rep.ClientReqID = http.StatusOK, ODataJSON, rep.B[:0], ""
	return rep
}

// RequestID is Graph's request-id header and innerError field: unique per request, deterministic per run.
func (k *Kit) RequestID() string {
	n := k.Seq()
	return ids.GUID(ids.Hash(k.seed, 0x4e51, n), ids.Hash(k.seed, 0x4e52, n))
}

// SealToken makes a paging token ($skiptoken), opaque to clients: base64url of a kind byte, varint fields and a
// check value, so a client that edits or invents one gets a 400, as from Graph.
func (k *Kit) SealToken(kind byte, vals ...int64) string {
	b := make([]byte, 0, 48)
	b = append(b, kind)
	for _, v := range vals {
		b = binary.AppendVarint(b, v)
	}
	b = binary.BigEndian.AppendUint32(b, uint32(ids.Hash(k.seed, 0x70c, uint64(kind), ids.Mix(uint64(len(b))), checksum(b))))
	return base64.RawURLEncoding.EncodeToString(b)
}

// OpenToken reads back a token SealToken made for kind with n values (ok false for any other string).
func (k *Kit) OpenToken(kind byte, tok string, n int) ([]int64, bool) {
	b, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil || len(b) < 5 || b[0] != kind {
		return nil, false
	}
	body, sum := b[:len(b)-4], binary.BigEndian.Uint32(b[len(b)-4:])
	if sum != uint32(ids.Hash(k.seed, 0x70c, uint64(kind), ids.Mix(uint64(len(body))), checksum(body))) {
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
