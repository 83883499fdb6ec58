package injector

import "strings"

// Change is one field Inject wrote: an RFC 6902 "add" of Value at Path, a JSON pointer
// into the pod Inject was given. "add" sets a member whether or not it exists, and "-"
// appends to a list, so nothing the pod carried is removed, known to our Go types or not.
type Change struct {
	// Path is the JSON pointer of the field, as the pod Inject was given has it.
	Path string
	// Value is the field's new value, shared with the result: marshal it, never modify it.
	Value any `json:"-"`
}

// changes collects the fields Inject writes, in the order a patch must apply them.
type changes struct{ list []Change }

func (c *changes) add(path string, value any) {
	if c != nil {
		c.list = append(c.list, Change{Path: path, Value: value})
	}
}

// appended records a list that grew from had items: the whole list when the pod had none
// (it may lack the member), otherwise each new item at "-". Items are pointers: boxing
// the item itself would copy it to the heap.
func appended[T any](c *changes, path string, had int, list []T) {
	if had == 0 {
		c.add(path, list)
		return
	}
	for i := had; i < len(list); i++ {
		c.add(path+"/-", &list[i])
	}
}

// escapePointer escapes a map key for a JSON pointer (RFC 6901): annotation keys hold "/".
func escapePointer(k string) string {
	return strings.ReplaceAll(strings.ReplaceAll(k, "~", "~0"), "/", "~1")
}
