package pipelines

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"

	"github.com/seatlake/seatlake/extract/source"
)

// A scope's streams start once the streams they come after succeeded (Dataverse's users and audits need the
// organization id the audit settings give); when the first step fails, what comes after it never runs and the
// step's error is the scope's.
func TestRunOrderedHonoursAfter(t *testing.T) {
	refused := errors.New("settings refused")
	for _, tt := range []struct {
		name     string
		firstErr error
		wantRan  []string
		wantErr  error
	}{
		{"first step succeeds", nil, []string{"settings", "users", "audits"}, nil},
		{"first step fails", refused, []string{"settings"}, refused},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var mu sync.Mutex
			var ran []string
			streams := []source.Stream{
				{Name: "audits", After: []string{"settings"}},
				{Name: "users", After: []string{"settings"}},
				{Name: "settings"},
			}
			err := runOrdered(context.Background(), streams, func(ctx context.Context, st source.Stream) error {
				mu.Lock()
				ran = append(ran, st.Name)
				mu.Unlock()
				if st.Name == "settings" {
					return tt.firstErr
				}
				return nil
			})
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("error %v, want %v", err, tt.wantErr)
			}
			if len(ran) == 0 || ran[0] != "settings" || len(ran) != len(tt.wantRan) {
				t.Fatalf("ran %v, want settings first, then %v", ran, tt.wantRan[1:])
			}
			slices.Sort(ran)
			want := slices.Clone(tt.wantRan)
			slices.Sort(want)
			if !slices.Equal(ran, want) {
				t.Errorf("ran %v, want %v", ran, tt.wantRan)
			}
		})
	}
	// A stream after one that is not of its scope is a source's mistake, said before anything runs.
	err := runOrdered(context.Background(), []source.Stream{{Name: "users", After: []string{"nowhere"}}},
		func(context.Context, source.Stream) error { t.Error("a stream ran"); return nil })
	if err == nil {
		t.Error("a stream after an unknown one: no error")
	}
}
