package assetsim

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"strconv"

	"github.com/seatlake/seatlake/internal/assetsim/jsmassets"
	"github.com/seatlake/seatlake/internal/assetsim/servicenow"
)

// Secrets are the credentials the emulators accept, derived from the tenant simulator's seed: the same seed gives
// the same token and passwords on every start, so a config file or secret files written once keep working (as the
// tenant's own client secret does). They guard loopback emulators, nothing real.
type Secrets struct {
	AssetsToken, ServiceNowPassword, ServiceNowClientSecret string
}

// SecretsFor derives the emulators' secrets from seed.
func SecretsFor(seed int64) Secrets {
	derive := func(what string) string {
		b := make([]byte, 8, 8+len(what))
		binary.BigEndian.PutUint64(b, uint64(seed))
		sum := sha256.Sum256(append(b, what...))
		return hex.EncodeToString(sum[:12])
	}
	return Secrets{AssetsToken: "sim-assets-" + derive("jsm-assets token"),
		ServiceNowPassword: "sim-" + derive("servicenow password"), ServiceNowClientSecret: "sim-" + derive("servicenow client secret")}
}

// listen listens on host:port (port 0: a free one); what names the emulator in the error, and a fixed port that is
// taken is named with the fix.
func listen(host string, port int, what string) (net.Listener, error) {
	ln, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(port)))
	if err != nil {
		if port != 0 {
			return nil, fmt.Errorf("starting the %s emulator on port %d (the asset emulators take the two ports after the environments'): %w; choose another --addr", what, port, err)
		}
		return nil, fmt.Errorf("starting the %s emulator: %w", what, err)
	}
	return ln, nil
}

// StartAssets serves the JSM Assets emulator accepting token on host:port (0: a free port); it returns its URL,
// the emulator and a stop function.
func StartAssets(host string, port int, token string) (url string, emu *jsmassets.Server, stop func(), err error) {
	emu = jsmassets.New(token)
	ln, err := listen(host, port, "Assets")
	if err != nil {
		return "", nil, nil, err
	}
	url = "http://" + ln.Addr().String()
	emu.SetBase(url)
	srv := &http.Server{Handler: emu}
	go srv.Serve(ln)
	return url, emu, func() { srv.Close() }, nil
}

// ServiceNow is a running ServiceNow emulator and the credentials it accepts.
type ServiceNow struct {
	URL, User, Password, ClientID, ClientSecret string
	*servicenow.Server
	Stop func()
}

// StartServiceNow serves the ServiceNow emulator (the default staging tables and transform maps, the instance set
// up for the OAuth client credentials grant) on host:port (0: a free port) with the secrets' password and client
// secret; opts change it before it serves.
func StartServiceNow(host string, port int, secrets Secrets, opts ...func(*servicenow.Server)) (*ServiceNow, error) {
	e := &ServiceNow{User: "seatlake.integration", Password: secrets.ServiceNowPassword,
		ClientID: "seatlake-sim-client", ClientSecret: secrets.ServiceNowClientSecret}
	e.Server = servicenow.New(e.User, e.Password, e.ClientID, e.ClientSecret)
	e.Server.SetClientCredentials(true, e.User)
	for _, o := range opts {
		o(e.Server)
	}
	ln, err := listen(host, port, "ServiceNow")
	if err != nil {
		return nil, err
	}
	e.URL = "http://" + ln.Addr().String()
	srv := &http.Server{Handler: e.Server}
	go srv.Serve(ln)
	e.Stop = func() { srv.Close() }
	return e, nil
}
