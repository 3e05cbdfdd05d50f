package msauth

import (
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"strings"
)

// Secret holds a credential. Every way of printing it redacts it.
type Secret string

const redacted = "[redacted]"

func (s Secret) String() string                { return redacted }
func (s Secret) GoString() string              { return redacted }
func (s Secret) LogValue() slog.Value          { return slog.StringValue(redacted) }
func (s Secret) MarshalText() ([]byte, error)  { return []byte(redacted), nil }
func (s Secret) MarshalJSON() ([]byte, error)  { return []byte(`"` + redacted + `"`), nil }
func (s Secret) Format(f fmt.State, verb rune) { f.Write([]byte(redacted)) }
func (s Secret) Reveal() string                { return string(s) }

// LoadSecret reads the client secret from file when it is set (one trailing newline trimmed), else from the
// environment variable envName. There is deliberately no way to pass the value on the command line, where ps and
// shell history would show it.
func LoadSecret(envName, file string) (Secret, error) {
	return LoadNamedSecret("client secret", "client-secret-file", envName, file)
}

// LoadNamedSecret is LoadSecret for any secret (a JSM Assets token, a ServiceNow password): what names it in
// messages, flag is the flag (or config key) that names its file.
func LoadNamedSecret(what, flag, envName, file string) (Secret, error) {
	if file != "" {
		b, err := readPrivate(file, "the "+what+" file")
		if err != nil {
			return "", err
		}
		// Editors and `echo` leave a newline, copy and paste a space: none is ever part of a secret.
		s := strings.TrimSpace(string(b))
		if s == "" {
			return "", fmt.Errorf("the %s file %s is empty", what, file)
		}
		return Secret(s), nil
	}
	if envName == "" {
		return "", fmt.Errorf("no %s: name its file with %s", what, flag)
	}
	if v := strings.TrimSpace(os.Getenv(envName)); v != "" {
		return Secret(v), nil
	}
	return "", fmt.Errorf("no %s: set $%s or pass --%s", what, envName, flag)
}

// readPrivate reads a file holding a credential. Like ssh with a private key, one that group or others can read is
// refused, with the chmod that fixes it; what names the file in messages. The one exception is PostgreSQL's for its
// server key: a file owned by root may be readable by its group (0440, 0640) when seatlake does not run as root.
// That is what Kubernetes makes of a secret volume (defaultMode 0400) in a pod with an fsGroup: root owns the files,
// the fsGroup group may read them (kubernetes/kubernetes#57923), and the pod's user reads them through that group.
func readPrivate(path, what string) ([]byte, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", what, err)
	}
	if runtime.GOOS != "windows" && !privateEnough(st.Mode().Perm(), ownedByRoot(st), os.Geteuid() == 0) {
		return nil, fmt.Errorf("%s %s is readable by others (mode %04o): run chmod 600 %s", what, path, st.Mode().Perm(), path)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", what, err)
	}
	return b, nil
}

// privateEnough says whether a credential file's mode keeps it private: no access for group or others, or, for a
// file owned by root read by a process that is not root, group read only (see readPrivate).
func privateEnough(perm os.FileMode, rootOwned, runAsRoot bool) bool {
	if perm&0o077 == 0 {
		return true
	}
	return rootOwned && !runAsRoot && perm&0o037 == 0
}
