// sleep-again sleeps for the requested seconds, then answers. The mesh-agents tests kill its host
// mid-sleep and check what the node that asked does about it.
package main

import (
	"fmt"
	"time"
)

func main() {
	newHost().serve("sleep-again", func(h *host, t task) (string, interface{}, error) {
		seconds, _ := t.number("seconds")
		h.progress(t.ID, "sleeping")
		time.Sleep(time.Duration(seconds * float64(time.Second)))
		return fmt.Sprintf("slept %g s", seconds), nil, nil
	})
}
