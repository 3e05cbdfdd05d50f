package warehouse

// SetFailpoint makes a commit of w stop at the named step, as a killed process would: f returns an error there.
func SetFailpoint(w *Warehouse, f func(step string) error) { w.failpoint = f }

// The kit of the internal tests (helpers_test.go), for the tests of package warehouse_test.
var (
	NewTestWarehouse = testWarehouse // a warehouse in a temporary folder and a checked allocator
	RecordFromJSON   = record        // a batch of a table from JSON rows
	RowsOfRun        = rows          // a batch of a table from JSON members, with tenant t1's and run's provenance
	WriteUncommitted = write         // a run of tenant t1 on RunDay, written, not committed
	RunDay           = day
	ErrCrash         = errCrash

	// The declarations TestGenerateLegacyWarehouse wrote testdata/legacy with.
	LegacyPeople, LegacyRuns = people, legacyRuns
)
