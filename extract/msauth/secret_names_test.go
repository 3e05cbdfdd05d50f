package msauth

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A secret file's messages name the secret it holds and the flag that names it, not always the client secret.
func TestLoadNamedSecretNamesTheSecret(t *testing.T) {
	dir := t.TempDir()
	open := filepath.Join(dir, "assets.token")
	os.WriteFile(open, []byte("tok\n"), 0o644)
	os.Chmod(open, 0o644)
	empty := filepath.Join(dir, "empty.token")
	os.WriteFile(empty, nil, 0o600)
	for _, tc := range []struct {
		name, env, file, want string
	}{
		{"readable by others", "", open, "the JSM Assets token file " + open + " is readable by others (mode 0644): run chmod 600 " + open},
		{"empty", "", empty, "the JSM Assets token file " + empty + " is empty"},
		{"none", "SEATLAKE_TEST_NO_SUCH_VARIABLE", "", "no JSM Assets token: set $SEATLAKE_TEST_NO_SUCH_VARIABLE or pass --token-file"},
		{"no file and no variable", "", "", "no JSM Assets token: name its file with token-file"},
	} {
		_, err := LoadNamedSecret("JSM Assets token", "token-file", tc.env, tc.file)
		if err == nil || err.Error() != tc.want || strings.Contains(err.Error(), "client secret") {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
}
