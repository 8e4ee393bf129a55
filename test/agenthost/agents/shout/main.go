// Shout answers each task with its text in capitals (a cold agent for the agent services tests).
package main

import "strings"

func main() {
	newHost().serve("shout", func(h *host, t task) (string, interface{}, error) {
		return strings.ToUpper(t.str("text")), nil, nil
	})
}
