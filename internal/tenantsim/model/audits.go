package model

import (
	"cmp"
	"slices"
	"sync"

	"github.com/seatlake/seatlake/internal/tenantsim/ids"
)

// AuditLog generates one Dataverse environment's audit table without storing it. The history is cut into hours;
// hour k's records are a pure function of (seed, environment, k), generated on demand, sorted by createdon and kept
// in a small cache while pages walk through them. A record's position (hour, index) is what its auditid encodes,
// so the paging cookie's "last" id says where the next page starts, as a real paging cookie does.
//
// What is in it, as Dataverse logs it:
//   - user access (action 64 through a model-driven app, 65 through web services; operation 4), at most once per
//     user per audit interval: each user has one hour (their phase) in every interval when access may be logged;
//   - record changes (Create 1, Update 2, Delete 3) by Sales users on sales tables and service agents on service
//     tables; readers only open records;
//   - a daily role assignment by SYSTEM (action 55), which a user-driven query filters out.
type AuditLog struct {
	seed     uint64
	Start    int64 // Unix microseconds, midnight of the first day
	Hours    int
	Anchor   int64
	interval int
	Env      *DataverseEnv
	byPhase  [][]int32 // access users by phase
	scale    uint32    // record changes per busy writer-hour, in thousandths (1000 = realistic)
	Total    int64     // records a user-driven query (actions 1, 2, 3, 64, 65) returns over the whole history

	mu    sync.Mutex
	cache map[int][]AuditRecord
	order []int
}

// AuditRecord is one audit record.
type AuditRecord struct {
	At     int64 // Unix microseconds, whole seconds
	H      uint64
	User   int32 // index into DataverseEnv.Users
	Action uint8
	OTC    uint8 // index into objectTypes
}

// ObjectTypes are the tables audit records name (objecttypecode), by AuditRecord.OTC.
var ObjectTypes = []string{"systemuser", "opportunity", "lead", "quote", "account", "contact", "incident", "knowledgearticle"}

var (
	salesOTC   = []uint8{1, 2, 3, 4, 5}
	serviceOTC = []uint8{6, 7, 5, 4}
)

// MicrosPerHour is an hour in microseconds: the audit log's bucket.
const MicrosPerHour = 60 * MicrosPerMinute

func (a *AuditLog) build(m *Tenant, cfg Params, env *DataverseEnv) {
	a.seed = ids.Hash(cfg.Seed, 0xa0d17, uint64(env.Index))
	a.Env = env
	a.Start = m.Events.Start
	a.Anchor = m.Anchor
	a.Hours = int((m.Anchor - a.Start) / MicrosPerHour)
	a.interval = env.Interval
	a.byPhase = make([][]int32, a.interval)
	for _, u := range env.access {
		p := int(env.Users[u].phase) % a.interval
		a.byPhase[p] = append(a.byPhase[p], u)
	}
	a.scale = 1000
	a.cache = map[int][]AuditRecord{}
	access, changes := a.count()
	if cfg.AuditsPerEnv > 0 { // scale the record changes to reach about the requested total, and count again
		a.scale = 0
		if changes > 0 && cfg.AuditsPerEnv > access {
			a.scale = uint32(min(1000*(cfg.AuditsPerEnv-access)/changes, 1<<30))
		}
		access, changes = a.count()
	}
	a.Total = access + changes
}

// count walks every hour once and counts the user access and record change records (not sorted: only counted).
func (a *AuditLog) count() (access, changes int64) {
	for k := 0; k < a.Hours; k++ {
		for _, r := range a.Generate(k) {
			switch r.Action {
			case 64, 65:
				access++
			case 1, 2, 3:
				changes++
			}
		}
	}
	return access, changes
}

// Generate returns hour k's records in generation order (hour sorts them by time).
func (a *AuditLog) Generate(k int) []AuditRecord {
	env := a.Env
	if !env.AuditOn {
		return nil
	}
	hs := a.Start + int64(k)*MicrosPerHour
	w := uint64(bucketWeight(hs))
	var recs []AuditRecord
	rnd := func(parts ...uint64) uint64 { return ids.Hash(int64(a.seed), append([]uint64{uint64(k)}, parts...)...) }
	at := func(x uint64) int64 {
		t := hs + int64(x%uint64(MicrosPerHour))
		t -= t % 1_000_000
		return min(t, a.Anchor-1_000_000)
	}
	if env.AccessOn {
		for _, u := range a.byPhase[k%a.interval] {
			x := rnd(uint64(u), 1)
			if x%1000 >= uint64(env.Users[u].rate)*w/8 {
				continue
			}
			act := uint8(64)
			if (x>>20)%5 == 0 {
				act = 65
			}
			recs = append(recs, AuditRecord{At: at(x >> 24), H: x, User: u, Action: act, OTC: 0})
		}
	}
	if a.scale > 0 {
		for _, u := range env.writers {
			x := rnd(uint64(u), 2)
			if x%1000 >= uint64(env.Users[u].rate)*w/16 {
				continue
			}
			n := (1 + (x>>12)%3) * uint64(a.scale)
			cnt := n / 1000
			if rnd(uint64(u), 3)%1000 < n%1000 {
				cnt++
			}
			tables := salesOTC
			if env.Users[u].role == dvService {
				tables = serviceOTC
			}
			for j := range cnt {
				y := rnd(uint64(u), 4, j)
				act := uint8(2)
				switch y % 100 {
				case 0, 1, 2, 3, 4:
					act = 3
				case 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24:
					act = 1
				}
				recs = append(recs, AuditRecord{At: at(y >> 8), H: y, User: u, Action: act, OTC: tables[(y>>40)%uint64(len(tables))]})
			}
		}
	}
	if k%24 == 9 && len(env.Users) > 4 { // a role assignment by SYSTEM each morning
		x := rnd(9)
		recs = append(recs, AuditRecord{At: at(x), H: x, User: 0, Action: 55, OTC: 0})
	}
	return recs
}

// Hour returns hour k's records sorted by createdon, from the cache when a page has just read them.
func (a *AuditLog) Hour(k int) []AuditRecord {
	a.mu.Lock()
	if recs, ok := a.cache[k]; ok {
		a.mu.Unlock()
		return recs
	}
	a.mu.Unlock()
	recs := a.Generate(k)
	// Records of one second are ordered by their hash: deterministic, and an unstable sort is several times faster
	// than a stable one on an hour of records.
	slices.SortFunc(recs, func(p, q AuditRecord) int {
		if c := cmp.Compare(p.At, q.At); c != 0 {
			return c
		}
		return cmp.Compare(p.H, q.H)
	})
	a.mu.Lock()
	defer a.mu.Unlock()
	if _, ok := a.cache[k]; !ok {
		if len(a.order) >= 32 {
			delete(a.cache, a.order[0])
			a.order = a.order[1:]
		}
		a.cache[k] = recs
		a.order = append(a.order, k)
	}
	return recs
}

// HourOf is the hour holding instant us, clamped to [0, hours].
func (a *AuditLog) HourOf(us int64) int {
	if us < a.Start {
		return 0
	}
	return int(min((us-a.Start)/MicrosPerHour, int64(a.Hours)))
}

// AuditID encodes the record's position in its first 48 bits (masked), the rest is noise: a GUID, as Dataverse's,
// that the paging cookie can carry.
func (a *AuditLog) AuditID(k int, j int) string { return string(a.AppendAuditID(nil, k, j)) }

// AppendAuditID writes AuditID without building a string (the hot path of an audit page).
func (a *AuditLog) AppendAuditID(b []byte, k, j int) []byte {
	pos := (uint64(k)<<24 | uint64(j)) ^ (a.seed >> 16 & 0xffffffffffff)
	return ids.AppendGUID(b, pos<<16|(a.seed&0xffff), ids.Hash(int64(a.seed), uint64(k), uint64(j)))
}

// Position decodes an auditID (ok false for an id this log did not issue).
func (a *AuditLog) Position(id string) (k, j int, ok bool) {
	hi, ok := guidHigh48(id)
	if !ok {
		return 0, 0, false
	}
	pos := hi ^ (a.seed >> 16 & 0xffffffffffff)
	k, j = int(pos>>24), int(pos&0xffffff)
	if k >= a.Hours || j >= len(a.Hour(k)) || a.AuditID(k, j) != id {
		return 0, 0, false
	}
	return k, j, true
}

// guidHigh48 reads the first 12 hex digits of a GUID.
func guidHigh48(id string) (uint64, bool) {
	if len(id) != 36 || id[8] != '-' {
		return 0, false
	}
	var v uint64
	for i := 0; i < 13; i++ {
		if i == 8 {
			continue
		}
		c := id[i]
		var d byte
		switch {
		case c >= '0' && c <= '9':
			d = c - '0'
		case c >= 'a' && c <= 'f':
			d = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			d = c - 'A' + 10
		default:
			return 0, false
		}
		v = v<<4 | uint64(d)
	}
	return v, true
}
