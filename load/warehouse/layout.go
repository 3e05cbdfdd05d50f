package warehouse

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// The warehouse directory's layout beyond the tables: what other packages keep there is named here, so that no
// other package knows a path inside it.

// ViewsFile is the DuckDB database of views (load/catalog) inside the warehouse directory, the file the duckdb CLI
// opens.
const ViewsFile = "seatlake.duckdb"

// EventsDir is the events receiver's default folder (journal, callback secrets, status) in the warehouse directory.
func EventsDir(root string) string { return filepath.Join(root, "_events") }

// SpillDir is where DuckDB spills what does not fit its memory while the marts are computed: under _staging, not
// DuckDB's default (<database>.tmp, the name the views' build writes to).
func SpillDir(root string) string { return filepath.Join(root, dirStaging, "duckdb-spill") }

// ExecutionMarker is the file in which a sync to target records the remote execution it started for tenant, so
// that the next sync finds one a killed sync left behind.
func ExecutionMarker(root, tenant, target string) string {
	return filepath.Join(root, "syncs", "tenant="+tenant, "."+target+"-execution")
}

// LegacyPath is where migrate moves the earlier folder layout's files: LegacyDir in root, spelt from root as given.
func LegacyPath(root string) string {
	return strings.TrimSuffix(root, string(os.PathSeparator)) + string(os.PathSeparator) + LegacyDir
}

// Exists reports whether root holds a warehouse: its views, its embedded catalog, the catalog and storage it
// recorded, or the tables of the earlier folder layout.
func Exists(root string) bool {
	for _, name := range []string{ViewsFile, EmbeddedCatalogFile, ConfigFile, string(Raw)} {
		if _, err := os.Stat(filepath.Join(root, name)); err == nil {
			return true
		}
	}
	return false
}

// HasViews reports whether root holds the views file.
func HasViews(root string) bool {
	st, err := os.Stat(filepath.Join(root, ViewsFile))
	return err == nil && !st.IsDir()
}

// TenantsWithFiles lists, sorted, the tenant ids that have data files in root's raw tables, in the Iceberg layout
// (when the storage is the directory) or in the earlier folder layout: a warehouse whose views were never built
// still shows whose data it holds.
func TenantsWithFiles(root string) []string {
	var ids []string
	for _, pattern := range []string{filepath.Join(root, string(Raw), "*", "data", "tenant_id=*"), filepath.Join(root, string(Raw), "*", "tenant=*")} {
		dirs, _ := filepath.Glob(pattern)
		for _, d := range dirs {
			if _, id, _ := strings.Cut(filepath.Base(d), "="); !slices.Contains(ids, id) {
				ids = append(ids, id)
			}
		}
	}
	slices.Sort(ids)
	return ids
}
