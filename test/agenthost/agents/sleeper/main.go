// Sleeper sleeps for the requested seconds (default 600), then answers. The agenthost tests
// cancel it mid-sleep and check that its container is gone long before it would wake.
package main

import (
	"fmt"
	"time"
)

func main() {
	newHost().serve("sleeper", func(h *host, t task) (string, interface{}, error) {
		seconds, ok := t.number("seconds")
		if !ok {
			seconds = 600
		}
		h.progress(t.ID, "sleeping")
		time.Sleep(time.Duration(seconds * float64(time.Second)))
		return fmt.Sprintf("slept %g s", seconds), nil, nil
	})
}
