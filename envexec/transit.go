package envexec

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
)

// transitBatch bounds one decrypt request; a container rarely has more ciphertexts, so
// this is one request in practice.
const transitBatch = 256

// decrypt decrypts ciphertexts with transit key at mount in batches (batch_input) and
// returns, for each ciphertext, its plaintext or the reason it failed.
func (c *client) decrypt(ctx context.Context, mount, key string, ciphertexts []string) ([]string, []error, error) {
	plain := make([]string, 0, len(ciphertexts))
	errs := make([]error, 0, len(ciphertexts))
	for start := 0; start < len(ciphertexts); start += transitBatch {
		batch := ciphertexts[start:min(start+transitBatch, len(ciphertexts))]
		p, e, err := c.decryptBatch(ctx, mount, key, batch)
		if err != nil {
			return nil, nil, err
		}
		plain, errs = append(plain, p...), append(errs, e...)
	}
	return plain, errs, nil
}

type batchResult struct {
	Plaintext string `json:"plaintext"`
	Error     string `json:"error"`
}

func (c *client) decryptBatch(ctx context.Context, mount, key string, batch []string) ([]string, []error, error) {
	input := make([]map[string]string, len(batch))
	for i, ct := range batch {
		input[i] = map[string]string{"ciphertext": ct}
	}
	c.log.Debug("decrypting with transit", "path", mount+"/decrypt/"+key, "ciphertexts", len(batch))
	var out struct {
		Data struct {
			BatchResults []batchResult `json:"batch_results"`
		} `json:"data"`
	}
	r := request{method: http.MethodPost, path: mount + "/decrypt/" + key, body: map[string]any{"batch_input": input}}
	err := c.call(ctx, r, &out)
	// Vault answers 400 when any item fails, with every item's result in the body.
	var se *statusError
	if errors.As(err, &se) && se.code == http.StatusBadRequest && decodeInto(se.body, &out) == nil && len(out.Data.BatchResults) == len(batch) {
		err = nil
	}
	if err != nil {
		return nil, nil, err
	}
	if len(out.Data.BatchResults) != len(batch) {
		return nil, nil, fmt.Errorf("%s: %d results for %d ciphertexts", r, len(out.Data.BatchResults), len(batch))
	}
	plain := make([]string, len(batch))
	errs := make([]error, len(batch))
	for i, res := range out.Data.BatchResults {
		if res.Error != "" {
			errs[i] = fmt.Errorf("%s: %s", r, flatten(res.Error))
			continue
		}
		b, err := base64.StdEncoding.DecodeString(res.Plaintext)
		if err != nil {
			errs[i] = fmt.Errorf("%s: the plaintext is not base64", r)
			continue
		}
		plain[i] = string(b)
	}
	return plain, errs, nil
}
