package podjson

import "encoding/binary"

// interned remembers the last string made for each of its slots, so that the values pods
// repeat (names shared by containers and by a Deployment's replicas, "IfNotPresent",
// "/dev/termination-log") are allocated once. Like json/v2's own cache it lives in a
// pooled decoder, which the runtime drops within two garbage collections; the webhook
// reads no secret values, only references to them.
type interned [256]string

// str returns b as a string, from the cache when the string in b's slot is equal.
func (c *interned) str(b []byte) string {
	if len(b) < 2 || len(b) > 64 {
		return string(b) // one-byte strings are the runtime's already; long ones rarely repeat
	}
	// Hash the first and last eight bytes (or fewer): constant time, and different enough
	// for names and values of one pod.
	var head, tail uint64
	if len(b) >= 8 {
		head, tail = binary.LittleEndian.Uint64(b), binary.LittleEndian.Uint64(b[len(b)-8:])
	} else {
		for i, c := range b {
			head |= uint64(c) << (8 * i)
		}
	}
	h := (head ^ tail*0x9e3779b97f4a7c15 ^ uint64(len(b))) * 0xff51afd7ed558ccd
	slot := &c[h>>56]
	if *slot == string(b) {
		return *slot
	}
	*slot = string(b)
	return *slot
}
