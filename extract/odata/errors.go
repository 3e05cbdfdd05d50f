package odata

import (
	"encoding/json"
	"net/http"

	"github.com/seatlake/seatlake/internal/outbound"
)

// ReadError reads the OData error shape shared by Graph ({"error":{"code","message","innerError":
// {"request-id"}}}) and Dataverse ({"error":{"code":"0x80072322","message"}}), and Microsoft's request id headers.
func ReadError(h http.Header, body []byte, he *outbound.Error) {
	var e struct {
		Error struct {
			Code       string `json:"code"`
			Message    string `json:"message"`
			InnerError struct {
				RequestID string `json:"request-id"`
			} `json:"innerError"`
		} `json:"error"`
	}
	if json.Unmarshal(body, &e) == nil && (e.Error.Code != "" || e.Error.Message != "") {
		he.Code, he.Message, he.RequestID = e.Error.Code, outbound.OneLine(e.Error.Message, 500), e.Error.InnerError.RequestID
	}
	for _, name := range []string{"request-id", "x-ms-service-request-id", "x-ms-request-id"} {
		if he.RequestID != "" {
			break
		}
		he.RequestID = h.Get(name)
	}
}
