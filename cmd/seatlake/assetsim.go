package main

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"

	"github.com/seatlake/seatlake/internal/assetsim/jsmassets"
	"github.com/seatlake/seatlake/internal/assetsim/servicenow"
)

// startAssetsEmulator serves the JSM Assets emulator on a loopback port of host; it returns its URL, its container
// token and a stop function.
func startAssetsEmulator(host string) (url, token string, emu *jsmassets.Server, stop func(), err error) {
	b := make([]byte, 12)
	rand.Read(b)
	token = "sim-assets-" + hex.EncodeToString(b)
	emu = jsmassets.New(token)
	ln, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return "", "", nil, nil, fmt.Errorf("starting the Assets emulator: %w", err)
	}
	url = "http://" + ln.Addr().String()
	emu.SetBase(url)
	srv := &http.Server{Handler: emu}
	go srv.Serve(ln)
	return url, token, emu, func() { srv.Close() }, nil
}

// serviceNowEmulator is a running ServiceNow emulator and the credentials it accepts.
type serviceNowEmulator struct {
	URL, User, Password, ClientID, ClientSecret string
	*servicenow.Server
	stop func()
}

// startServiceNowEmulator serves the ServiceNow emulator (the default staging tables and transform maps, the
// instance set up for the OAuth client credentials grant) on a loopback port of host; opts change it before it
// serves.
func startServiceNowEmulator(host string, opts ...func(*servicenow.Server)) (*serviceNowEmulator, error) {
	b := make([]byte, 24)
	rand.Read(b)
	e := &serviceNowEmulator{User: "seatlake.integration", Password: "sim-" + hex.EncodeToString(b[:12]),
		ClientID: "seatlake-sim-client", ClientSecret: "sim-" + hex.EncodeToString(b[12:])}
	e.Server = servicenow.New(e.User, e.Password, e.ClientID, e.ClientSecret)
	e.Server.SetClientCredentials(true, e.User)
	for _, o := range opts {
		o(e.Server)
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return nil, fmt.Errorf("starting the ServiceNow emulator: %w", err)
	}
	e.URL = "http://" + ln.Addr().String()
	srv := &http.Server{Handler: e.Server}
	go srv.Serve(ln)
	e.stop = func() { srv.Close() }
	return e, nil
}
