// Nap sleeps for the asked seconds, then answers (a slow cold agent for the agent services tests).
package main

import "time"

func main() {
	newHost().serve("nap", func(h *host, t task) (string, interface{}, error) {
		seconds, _ := t.number("seconds")
		h.progress(t.ID, "napping")
		time.Sleep(time.Duration(seconds * float64(time.Second)))
		return "awake", nil, nil
	})
}
