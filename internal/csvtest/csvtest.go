// Package csvtest reads and writes the CSV files of other packages' tests (a report's files, an approver's plan,
// golden expectations): each a line to a test, failing the test on an error.
package csvtest

import (
	"encoding/csv"
	"os"
	"testing"
)

// Read returns the lines of the CSV file at path, the header first.
func Read(t testing.TB, path string) [][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

// Write writes the lines to a CSV file at path and returns the path.
func Write(t testing.TB, path string, recs [][]string) string {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := csv.NewWriter(f).WriteAll(recs); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}
