package outbound

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
)

// JSON sends in (nil: no body) as JSON and decodes the answer into out (nil, or an empty answer: nothing decoded).
func (c *Client) JSON(ctx context.Context, method, u string, in, out any) error {
	var body []byte
	if in != nil {
		var err error
		if body, err = json.Marshal(in); err != nil {
			return fmt.Errorf("%s %s: encoding the request: %w", method, Redact(u), err)
		}
	}
	var buf bytes.Buffer
	if err := c.Do(ctx, method, u, body, &buf); err != nil {
		return err
	}
	if out != nil && len(bytes.TrimSpace(buf.Bytes())) > 0 {
		if err := json.Unmarshal(buf.Bytes(), out); err != nil {
			return fmt.Errorf("%s %s: decoding the answer: %w", method, Redact(u), err)
		}
	}
	return nil
}
