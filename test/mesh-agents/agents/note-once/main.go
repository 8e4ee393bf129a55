// note-once sleeps for the requested seconds, then leaves one note on the node that asked. The
// mesh-agents tests freeze its host mid-sleep and count the notes: one, whichever host ran it.
package main

import (
	"fmt"
	"time"
)

func main() {
	newHost().serve("note-once", func(h *host, t task) (string, interface{}, error) {
		seconds, _ := t.number("seconds")
		text := t.str("text")
		h.progress(t.ID, "sleeping")
		time.Sleep(time.Duration(seconds * float64(time.Second)))
		if err := h.call(t.ID, "notify", map[string]interface{}{"text": text}, nil); err != nil {
			return "", nil, err
		}
		return fmt.Sprintf("noted %q", text), nil, nil
	})
}
