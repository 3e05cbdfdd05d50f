package businessevents

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Journal is the receiver's durable log: an event is appended and fsynced to the current segment before it is
// acknowledged. With group commit, the events that arrive while one fsync runs share the next one; without it,
// every event has its own. Rotate closes the current segment so the committer can land it in the warehouse and
// then remove it; segments left by a killed receiver are replayed on start.
type Journal struct {
	dir   string
	group bool
	reqs  chan appendReq
	mu    sync.Mutex // the current segment, between the writer and Rotate
	f     *os.File
	seg   int
	done  chan struct{}
	werr  error
}

type appendReq struct {
	line []byte
	done chan error
}

// record is one journal line. The body is kept as a JSON string, byte for byte as it came; segments written before
// that kept it as a JSON value (payload), which is still read.
type record struct {
	Environment string          `json:"environment"`
	ReceivedAt  time.Time       `json:"received_at"`
	Body        string          `json:"body,omitempty"`
	Payload     json.RawMessage `json:"payload,omitempty"`
}

// OpenJournal opens dir (created 0750) and starts a new segment after the ones already there.
func OpenJournal(dir string, groupCommit bool) (*Journal, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("creating the journal directory: %w", err)
	}
	segs, err := Segments(dir)
	if err != nil {
		return nil, err
	}
	j := &Journal{dir: dir, group: groupCommit, reqs: make(chan appendReq, 4096), done: make(chan struct{})}
	if len(segs) > 0 {
		j.seg = segNumber(segs[len(segs)-1])
	}
	if err := j.next(); err != nil {
		return nil, err
	}
	go j.writer()
	return j, nil
}

func segName(n int) string { return fmt.Sprintf("seg-%012d.jsonl", n) }

func segNumber(path string) int {
	n, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(filepath.Base(path), "seg-"), ".jsonl"))
	return n
}

// Segments lists dir's segments, oldest first.
func Segments(dir string) ([]string, error) {
	m, err := filepath.Glob(filepath.Join(dir, "seg-*.jsonl"))
	if err != nil {
		return nil, err
	}
	sort.Strings(m)
	return m, nil
}

// next opens the next segment (j.mu held or no writer yet).
func (j *Journal) next() error {
	j.seg++
	f, err := os.OpenFile(filepath.Join(j.dir, segName(j.seg)), os.O_CREATE|os.O_EXCL|os.O_WRONLY|os.O_APPEND, 0o640)
	if err != nil {
		return fmt.Errorf("opening a journal segment: %w", err)
	}
	if d, err := os.Open(j.dir); err == nil { // the new name survives a crash
		d.Sync()
		d.Close()
	}
	j.f = f
	return nil
}

// Append journals e and returns once it is on disk.
func (j *Journal) Append(e *Event) error {
	var line bytes.Buffer
	enc := json.NewEncoder(&line) // one line, ending in a newline
	enc.SetEscapeHTML(false)
	if err := enc.Encode(record{Environment: e.Environment, ReceivedAt: e.ReceivedAt, Body: string(e.Payload)}); err != nil {
		return err
	}
	req := appendReq{line: line.Bytes(), done: make(chan error, 1)}
	select {
	case j.reqs <- req:
	case <-j.done:
		return errors.New("the journal is closed")
	}
	return <-req.done
}

func (j *Journal) writer() {
	var buf bytes.Buffer
	batch := make([]appendReq, 0, 512)
	for {
		var first appendReq
		select {
		case first = <-j.reqs:
		case <-j.done:
			return
		}
		batch = append(batch[:0], first)
		if j.group {
		more:
			for len(batch) < cap(batch) {
				select {
				case r := <-j.reqs:
					batch = append(batch, r)
				default:
					break more
				}
			}
		}
		buf.Reset()
		for _, r := range batch {
			buf.Write(r.line)
		}
		j.mu.Lock()
		_, err := j.f.Write(buf.Bytes())
		if err == nil {
			err = j.f.Sync()
		}
		j.mu.Unlock()
		if err != nil {
			err = fmt.Errorf("journaling the event: %w", err)
		}
		for _, r := range batch {
			r.done <- err
		}
	}
}

// Rotate closes the current segment (when it holds anything) and starts the next; it returns every closed
// segment, oldest first: the ones to commit.
func (j *Journal) Rotate() ([]string, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if st, err := j.f.Stat(); err == nil && st.Size() > 0 {
		if err := j.f.Close(); err != nil {
			return nil, err
		}
		if err := j.next(); err != nil {
			return nil, err
		}
	}
	segs, err := Segments(j.dir)
	if err != nil {
		return nil, err
	}
	cur := filepath.Join(j.dir, segName(j.seg))
	out := segs[:0]
	for _, s := range segs {
		if s != cur {
			out = append(out, s)
		}
	}
	return out, nil
}

// Close stops the writer; appends after it fail.
func (j *Journal) Close() error {
	close(j.done)
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.f.Close()
}

// Rejected is a journal line that no longer parses as a business event (it was journaled by an older receiver that
// accepted what this one refuses, e.g. a body that is not UTF-8): set aside, never committed, never blocking the
// lines after it.
type Rejected struct {
	Line   int    // 1-based
	Reason string // what is wrong with it
	Raw    []byte // the journal line as it is on disk
}

// ReadSegment reads a segment's events. A last line cut short (the receiver was killed while writing it, before
// the event was acknowledged) is skipped; a line that is not a journal record, or whose body no longer parses, is
// returned as rejected with the reason.
func ReadSegment(path string) ([]*Event, []Rejected, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	if i := bytes.LastIndexByte(b, '\n'); i < len(b)-1 {
		b = b[:i+1] // the torn last line: never acknowledged
	}
	var out []*Event
	var rej []Rejected
	for n, line := range bytes.Split(bytes.TrimSuffix(b, []byte("\n")), []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		var r record
		if err := json.Unmarshal(line, &r); err != nil {
			rej = append(rej, Rejected{Line: n + 1, Reason: "not a journal record: " + err.Error(), Raw: line})
			continue
		}
		body := []byte(r.Body)
		if r.Body == "" {
			body = r.Payload
		}
		e, err := Parse(r.Environment, body, r.ReceivedAt)
		if err != nil {
			rej = append(rej, Rejected{Line: n + 1, Reason: err.Error(), Raw: line})
			continue
		}
		out = append(out, e)
	}
	return out, rej, nil
}

// SetAside appends a segment's rejected lines, as they were, to dir/<segment's name> (created 0750/0640).
func SetAside(dir, segment string, rej []Rejected) error {
	if len(rej) == 0 {
		return nil
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return fmt.Errorf("setting rejected journal lines aside: %w", err)
	}
	f, err := os.OpenFile(filepath.Join(dir, filepath.Base(segment)), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o640)
	if err != nil {
		return fmt.Errorf("setting rejected journal lines aside: %w", err)
	}
	var buf bytes.Buffer
	for _, r := range rej {
		buf.Write(r.Raw)
		buf.WriteByte('\n')
	}
	if _, err := f.Write(buf.Bytes()); err != nil {
		f.Close()
		return fmt.Errorf("setting rejected journal lines aside: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("setting rejected journal lines aside: %w", err)
	}
	return f.Close()
}
