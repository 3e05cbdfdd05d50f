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
	"unicode/utf8"
)

// Journal is the receiver's durable log: an event is appended and fsynced to the current segment before it is
// acknowledged. With group commit, the events that arrive while one fsync runs share the next one; without it,
// every event has its own. Rotate closes the current segment so the committer can land it in the warehouse and
// then remove it; segments left by a killed receiver are replayed on start.
//
// The journal also keeps the events of the segments it wrote, as they were appended, so that committing them needs
// no second read and parse of the files (Read); the files alone are what a restart recovers from (ReadSegment).
type Journal struct {
	dir   string
	group bool
	reqs  chan appendReq
	mu    sync.Mutex // the current segment, between the writer and Rotate; the events held
	f     *os.File
	seg   int
	done  chan struct{}

	// held are the events of the closed segments this journal wrote (by path), cur those of the current one. A
	// segment in which a write failed, or whose events would take the bodies held past maxHeldBytes, is not held
	// (curFromFile): Read reads its file, as it reads a previous process's segments.
	held        map[string][]*Event
	cur         []*Event
	curFromFile bool
	heldBytes   int64
}

// maxHeldBytes bounds the bodies the journal holds for the commit; past it, the commit reads the files.
const maxHeldBytes = 64 << 20

type appendReq struct {
	e    *Event
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
	j := &Journal{dir: dir, group: groupCommit, reqs: make(chan appendReq, 4096), done: make(chan struct{}), held: map[string][]*Event{}}
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
	line, err := appendRecord(make([]byte, 0, len(e.Payload)+len(e.Environment)+96), e)
	if err != nil {
		return err
	}
	req := appendReq{e: e, line: line, done: make(chan error, 1)}
	select {
	case j.reqs <- req:
	case <-j.done:
		return errors.New("the journal is closed")
	}
	return <-req.done
}

// appendRecord appends e's journal line to dst: its record as encoding/json's Encoder writes it without HTML
// escaping, newline included (TestAppendRecord and FuzzAppendRecord hold the two to the same bytes), written by hand
// because the encoder's reflection was a fifth of the receiver's own CPU per event. A time encoding/json writes
// differently or refuses (not UTC, a year outside 0-9999) is left to the encoder.
func appendRecord(dst []byte, e *Event) ([]byte, error) {
	if t := e.ReceivedAt; t.Location() != time.UTC || t.Year() < 0 || t.Year() > 9999 {
		var line bytes.Buffer
		enc := json.NewEncoder(&line) // one line, ending in a newline
		enc.SetEscapeHTML(false)
		if err := enc.Encode(record{Environment: e.Environment, ReceivedAt: e.ReceivedAt, Body: string(e.Payload)}); err != nil {
			return nil, err
		}
		return append(dst, line.Bytes()...), nil
	}
	dst = append(dst, `{"environment":`...)
	dst = appendJSONString(dst, e.Environment)
	dst = append(dst, `,"received_at":"`...)
	dst = e.ReceivedAt.AppendFormat(dst, time.RFC3339Nano)
	dst = append(dst, '"')
	if len(e.Payload) > 0 { // omitempty
		dst = append(dst, `,"body":`...)
		dst = appendJSONString(dst, e.Payload)
	}
	return append(dst, '}', '\n'), nil
}

// appendJSONString appends s as encoding/json writes a string without HTML escaping: quotes, backslashes and
// control characters escaped (\b \f \n \r \t by name), bytes that are not UTF-8 as \ufffd, U+2028 and U+2029
// as \u2028 and \u2029.
func appendJSONString[S ~[]byte | ~string](dst []byte, s S) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		b := s[i]
		if b < utf8.RuneSelf {
			if b >= 0x20 && b != '"' && b != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch b {
			case '"', '\\':
				dst = append(dst, '\\', b)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hex[b>>4], hex[b&0xF])
			}
			i++
			start = i
			continue
		}
		n := min(len(s)-i, utf8.UTFMax)
		c, size := utf8.DecodeRune([]byte(s[i : i+n]))
		switch {
		case c == utf8.RuneError && size == 1:
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
		case c == '\u2028' || c == '\u2029':
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hex[c&0xF])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
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
		j.hold(batch, err)
		j.mu.Unlock()
		if err != nil {
			err = fmt.Errorf("journaling the event: %w", err)
		}
		for _, r := range batch {
			r.done <- err
		}
	}
}

// hold keeps a batch's events with the current segment once they are on disk (j.mu held). After a failed write
// the segment's file may hold part of the batch, or all of it: from then on the file is what the commit reads.
func (j *Journal) hold(batch []appendReq, err error) {
	if j.curFromFile {
		return
	}
	var n int64
	for _, r := range batch {
		n += int64(len(r.e.Payload))
	}
	if err != nil || j.heldBytes+n > maxHeldBytes {
		j.curFromFile = true
		for _, e := range j.cur {
			j.heldBytes -= int64(len(e.Payload))
		}
		j.cur = nil
		return
	}
	for _, r := range batch {
		j.cur = append(j.cur, r.e)
	}
	j.heldBytes += n
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
		if !j.curFromFile {
			j.held[filepath.Join(j.dir, segName(j.seg))] = j.cur
		}
		j.cur, j.curFromFile = nil, false
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

// Read returns a closed segment's events: those the journal holds when it wrote the segment (each as it was
// appended, none rejected), else what ReadSegment reads of the file.
func (j *Journal) Read(path string) ([]*Event, []Rejected, error) {
	j.mu.Lock()
	evs, ok := j.held[path]
	j.mu.Unlock()
	if ok {
		return evs, nil, nil
	}
	return ReadSegment(path)
}

// Remove deletes a committed segment and forgets its events.
func (j *Journal) Remove(path string) error {
	if err := os.Remove(path); err != nil {
		return err
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	for _, e := range j.held[path] {
		j.heldBytes -= int64(len(e.Payload))
	}
	delete(j.held, path)
	return nil
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
