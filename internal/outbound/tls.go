package outbound

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
)

// CertificateError is a server certificate this machine does not trust. It is never transient (retrying cannot
// change it) and the fix is on this side, so it says the problem and the fix in one line. Every outbound request
// (the extractors', the token sources', the asset sinks', reclaim's) reports certificate failures through it.
type CertificateError struct {
	Problem string // "the server's certificate is signed by an unknown authority"
	Fix     string // what to do about it
	Err     error  // the TLS verification error
}

func (e *CertificateError) Error() string { return e.Problem + ": " + e.Fix }
func (e *CertificateError) Unwrap() error { return e.Err }

// CertificateProblem returns the certificate error behind err (a failed TLS verification, however deeply
// wrapped), or nil when err is not one.
func CertificateProblem(err error) *CertificateError {
	if err == nil {
		return nil
	}
	var ce *CertificateError
	if errors.As(err, &ce) {
		return ce
	}
	var uae x509.UnknownAuthorityError
	var hne x509.HostnameError
	var cie x509.CertificateInvalidError
	var cve *tls.CertificateVerificationError
	switch {
	case errors.As(err, &uae):
		return &CertificateError{Problem: "the server's certificate is signed by an unknown authority",
			Fix: "set SSL_CERT_FILE to the file of the CA that signed it (seatlake sim --tls prints it as ca_file=…), or add that CA to this machine's trust store",
			Err: err}
	case errors.As(err, &hne):
		return &CertificateError{Problem: "the server's certificate is not valid for " + hne.Host,
			Fix: "use the host name the certificate was issued for in the URL (or give the server a certificate for this name)", Err: err}
	case errors.As(err, &cie) && cie.Reason == x509.Expired:
		return &CertificateError{Problem: "the server's certificate has expired or is not valid yet",
			Fix: "check this machine's clock, or renew the server's certificate", Err: err}
	case errors.As(err, &cie):
		return &CertificateError{Problem: "the server's certificate is not valid (" + cie.Error() + ")",
			Fix: "give the server a certificate this machine can verify", Err: err}
	case errors.As(err, &cve):
		return &CertificateError{Problem: "the server's certificate could not be verified (" + cve.Err.Error() + ")",
			Fix: "set SSL_CERT_FILE to the CA file that signed it, or fix the server's certificate", Err: err}
	}
	return nil
}
