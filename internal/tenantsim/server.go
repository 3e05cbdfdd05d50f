package tenantsim

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// Start listens on addr, which must be a loopback address ("127.0.0.1:0" picks a free port), and serves in the
// background until Close. It returns the base URL, e.g. http://127.0.0.1:41234.
//
// Each Dynamics environment gets a port of its own: with a fixed port P, the Dataverse environments take P+1, P+2…
// and the F&O environments the ports after them, so the same flags serve the same URLs on every start (a config
// file written once keeps working); with port 0 every port is picked free.
func (s *Sim) Start(addr string) (string, error) {
	host, portText, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("simulator address %q: %w", addr, err)
	}
	port, err := strconv.Atoi(portText)
	if err != nil || port < 0 || port+s.cfg.DataverseEnvs+s.cfg.FinOpsEnvs > 65535 {
		return "", fmt.Errorf("simulator address %q: want a port from 0 to %d (the environments take the ports after it)", addr, 65535-s.cfg.DataverseEnvs-s.cfg.FinOpsEnvs)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return "", fmt.Errorf("simulator address %q: the simulator listens on loopback only (127.0.0.1, ::1, localhost)", addr)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.srv != nil {
		return "", errors.New("simulator already started")
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", fmt.Errorf("listening on %s: %w", addr, err)
	}
	// Every Dynamics environment has its own host, as at Microsoft: a port of its own on the same loopback address.
	var lns []net.Listener
	var urls []string
	for i := range s.cfg.DataverseEnvs + s.cfg.FinOpsEnvs {
		envPort := 0
		if port != 0 {
			envPort = port + 1 + i
		}
		l, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(envPort)))
		if err != nil {
			ln.Close()
			for _, l := range lns {
				l.Close()
			}
			what := fmt.Sprintf("Dataverse environment %d", i+1)
			if i >= s.cfg.DataverseEnvs {
				what = fmt.Sprintf("F&O environment %d", i-s.cfg.DataverseEnvs+1)
			}
			if envPort != 0 {
				return "", fmt.Errorf("listening for %s on port %d (the environments take the %d ports after --addr's): %w; choose another --addr",
					what, envPort, s.cfg.DataverseEnvs+s.cfg.FinOpsEnvs, err)
			}
			return "", fmt.Errorf("listening for %s on %s: %w", what, host, err)
		}
		lns = append(lns, l)
	}
	scheme := "http://"
	if s.tls != nil {
		// HTTP/1.1 only, as the services answer this client: an HTTP/2 connection could not be reset by a fault.
		scheme = "https://"
		ln = tls.NewListener(ln, s.tls.Config())
		for i := range lns {
			lns[i] = tls.NewListener(lns[i], s.tls.Config())
		}
	}
	for _, l := range lns {
		urls = append(urls, scheme+l.Addr().String())
	}
	s.base = scheme + ln.Addr().String()
	s.dvURLs, s.foURLs = urls[:s.cfg.DataverseEnvs], urls[s.cfg.DataverseEnvs:]
	errLog := slog.NewLogLogger(s.log.Handler(), slog.LevelDebug)
	s.srv = &http.Server{Handler: s.mux, ReadHeaderTimeout: 10 * time.Second, ErrorLog: errLog}
	s.extra = nil
	for i := range lns {
		s.extra = append(s.extra, &http.Server{Handler: s.envs[i], ReadHeaderTimeout: 10 * time.Second, ErrorLog: errLog})
	}
	s.done = make(chan struct{})
	var wg sync.WaitGroup
	serve := func(srv *http.Server, l net.Listener) {
		defer wg.Done()
		if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("simulator stopped serving", "err", err)
		}
	}
	wg.Add(1 + len(lns))
	go serve(s.srv, ln)
	for i, l := range lns {
		go serve(s.extra[i], l)
	}
	go func() {
		wg.Wait()
		close(s.done)
	}()
	s.log.Info("simulator listening", "url", s.base, "dataverse", s.dvURLs, "finops", s.foURLs)
	return s.base, nil
}

// DataverseURLs are the started Dataverse environments' URLs (the environment URL: the Web API is under
// /api/data/v9.2/ and the token scope is the URL + /.default).
func (s *Sim) DataverseURLs() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.dvURLs...)
}

// FinOpsURLs are the started F&O environments' URLs (OData under /data/).
func (s *Sim) FinOpsURLs() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.foURLs...)
}

// URLLines are the lines `seatlake sim` prints after the credentials: one per environment.
func (s *Sim) URLLines() []string {
	var out []string
	for _, u := range s.DataverseURLs() {
		out = append(out, "dataverse_url="+u)
	}
	for _, u := range s.FinOpsURLs() {
		out = append(out, "finops_url="+u)
	}
	return out
}

// Close stops serving: it waits up to two seconds for requests in flight, then closes every connection.
func (s *Sim) Close() error {
	s.mu.Lock()
	srv, extra, done := s.srv, s.extra, s.done
	s.mu.Unlock()
	if srv == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	var err error
	for _, sv := range append([]*http.Server{srv}, extra...) {
		if e := sv.Shutdown(ctx); e != nil {
			if e = sv.Close(); e != nil && err == nil {
				err = e
			}
		}
	}
	<-done
	if err != nil {
		return fmt.Errorf("closing the simulator: %w", err)
	}
	return nil
}

// resources are the URLs tokens can be issued for: where the simulator listens ("" and none before Start).
func (s *Sim) resources() (base string, dataverse, finops []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.base, s.dvURLs, s.foURLs
}
