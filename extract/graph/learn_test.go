package graph

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/seatlake/seatlake/extract/odata"
	"github.com/seatlake/seatlake/extract/pages"
)

// replay is a pager that hands the extractor one page, read verbatim from testdata/learn/, and records the nextLink
// the extractor found in it (a replay never follows it: Learn's links point at graph.microsoft.com).
func replay(t *testing.T, file string, edit func([]byte) []byte) (pages.Pager, *string) {
	t.Helper()
	body, err := os.ReadFile(filepath.Join("testdata", "learn", file))
	if err != nil {
		t.Fatal(err)
	}
	if edit != nil {
		body = edit(body)
	}
	var next string
	return pagerFunc(func(_ context.Context, _ string, decode func([]byte) (string, error)) error {
		n, err := decode(body)
		next = n
		return err
	}), &next
}

// The responses Microsoft Learn publishes for the endpoints the extractor reads, replayed verbatim (the fact file,
// testdata/README.md, names each page): what the extractor lands from each, and what it refuses.
func TestLearnExamples(t *testing.T) {
	ctx := context.Background()
	newX := func(t *testing.T) *Extractor {
		_, x, _ := newTestExtractor(t)
		return x
	}

	t.Run("List users with signInActivity", func(t *testing.T) {
		x := newX(t)
		p, next := replay(t, "users_signinactivity.json", nil)
		res, users, _, err := readUsers(t, x, p)
		if err != nil || res.Users != 2 || res.Licenses != 0 || res.BadValues != 0 || *next != "" {
			t.Fatalf("result %+v, nextLink %q, err %v: want 2 users, nothing unparsed", res, *next, err)
		}
		// Adele's lastNonInteractiveSignInDateTime is 0001-01-01T00:00:00Z in the example: no such sign-in, null.
		users.golden(t, "learn_graph_users")
	})

	t.Run("List signIns", func(t *testing.T) {
		// As published, the example ends its last object's appliedConditionalAccessPolicies with a trailing comma:
		// not JSON. The extractor refuses the page whole rather than guess at it.
		x := newX(t)
		p, _ := replay(t, "signins.json", nil)
		s := newCollect(t)
		res, err := x.SignIns(ctx, p, time.Time{}, time.Now(), s)
		if !errors.Is(err, odata.ErrBadPage) || res.Rows != 0 || s.rows() != 0 {
			t.Fatalf("the published example: %d rows, err %v; want the page refused as malformed", res.Rows, err)
		}
		// With only that comma removed, the sign-in lands, and the nextLink is followed as written.
		p, next := replay(t, "signins.json", func(b []byte) []byte {
			return bytes.Replace(b, []byte("},\n              ]"), []byte("}\n              ]"), 1)
		})
		fixed := newCollect(t)
		res, err = x.SignIns(ctx, p, time.Time{}, time.Now(), fixed)
		if err != nil || res.Rows != 1 || res.BadValues != 0 {
			t.Fatalf("the example without its trailing comma: %+v, %v", res, err)
		}
		if want := "https://graph.microsoft.com/v1.0/auditLogs/signIns?$top=1&$skiptoken=9177f2e3532fcd4c4d225f68f7b9bdf7_1"; *next != want {
			t.Errorf("nextLink %q, want it verbatim: %q", *next, want)
		}
		fixed.golden(t, "learn_graph_signins")
	})

	t.Run("List subscribedSkus", func(t *testing.T) {
		x := newX(t)
		p, _ := replay(t, "subscribedSkus.json", nil)
		skus := newCollect(t)
		if n, err := x.SubscribedSkus(ctx, p, skus); err != nil || n != 2 {
			t.Fatalf("%d SKUs, %v; want 2", n, err)
		}
		skus.golden(t, "learn_graph_subscribed_skus")
	})

	t.Run("Get adminReportSettings", func(t *testing.T) {
		// The published example wraps the entity in "value"; the service answers the entity itself (the simulator
		// does): the extractor reads both.
		x := newX(t)
		p, _ := replay(t, "reportSettings.json", nil)
		rs := newCollect(t)
		if concealed, err := x.ReportSettings(ctx, p, rs); err != nil || !concealed {
			t.Fatalf("concealed %v, %v; want true", concealed, err)
		}
		rs.golden(t, "learn_graph_report_settings")
	})

	t.Run("getOffice365ActiveUserDetail CSV header", func(t *testing.T) {
		// Learn shows the header line of the CSV behind the 302: every column the extractor reads is in it.
		x := newX(t)
		p, _ := replay(t, "usage_report_header.csv", nil)
		if res, err := x.UsageReport(ctx, p, newCollect(t)); err != nil || res.Rows != 0 {
			t.Fatalf("the documented header: %+v, %v; want no rows and no error", res, err)
		}
	})
}
