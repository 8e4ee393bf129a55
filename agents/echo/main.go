// Echo is the example agent for agent authors: it answers every task with what it was given.
//
// The protocol (docs/agents.md) lives in agents/sdk/helix.go, which HelixOS builds into every
// agent: serve says "ready", reads one task at a time, and writes the "result" (or "error") line
// for what handle returns. Logs go to stderr; stdout carries protocol lines only.
package main

func main() {
	newHost().serve("echo", func(h *host, t task) (string, interface{}, error) {
		h.progress(t.ID, "echoing")
		text := t.str("text")
		if text == "" {
			text = "You said nothing."
		}
		return text, map[string]interface{}{"intent": t.Intent, "args": t.Args, "context": t.Context}, nil
	})
	// stdin closed: the host is done with this container.
}
