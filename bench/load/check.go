package load

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
)

// admissionReview is the part of an AdmissionReview response the check reads.
type admissionReview struct {
	Response *struct {
		UID       string  `json:"uid"`
		Allowed   bool    `json:"allowed"`
		PatchType *string `json:"patchType"`
		Patch     []byte  `json:"patch"`
		Result    *struct {
			Message string `json:"message"`
		} `json:"status"`
	} `json:"response"`
}

var (
	errNoResponse = errors.New("admission review has no response")
	errNoPatch    = errors.New("allowed without a JSON patch")
)

// CheckMutated accepts only a 200 answer that allows the request with the right uid and
// a non-empty JSON patch: what the apiserver needs to inject a pod.
func CheckMutated(status int, body []byte, uid string) error {
	_, err := Patch(status, body, uid)
	return err
}

// Patch checks a response as CheckMutated does and returns its JSON patch.
func Patch(status int, body []byte, uid string) ([]byte, error) {
	if status != http.StatusOK {
		return nil, fmt.Errorf("status %d: %.200s", status, body)
	}
	var r admissionReview
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, fmt.Errorf("decode admission review: %w", err)
	}
	switch resp := r.Response; {
	case resp == nil:
		return nil, errNoResponse
	case resp.UID != uid:
		return nil, fmt.Errorf("response uid %q, want %q", resp.UID, uid)
	case !resp.Allowed:
		msg := ""
		if resp.Result != nil {
			msg = resp.Result.Message
		}
		return nil, fmt.Errorf("not allowed: %.200s", msg)
	case resp.PatchType == nil || *resp.PatchType != "JSONPatch" || !nonEmptyArray(resp.Patch):
		return nil, errNoPatch
	default:
		return resp.Patch, nil
	}
}

// nonEmptyArray reports whether p is valid JSON holding an array with at least one element.
func nonEmptyArray(p []byte) bool {
	t := bytes.TrimSpace(p)
	return len(t) > 2 && t[0] == '[' && json.Valid(t) && len(bytes.TrimSpace(t[1:len(t)-1])) > 0
}
