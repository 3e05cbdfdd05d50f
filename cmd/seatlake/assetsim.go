package main

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"

	"github.com/seatlake/seatlake/internal/assetsim/jsmassets"
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
