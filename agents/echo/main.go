// Echo is the example agent for agent authors: it answers every task with what it was given.
//
// It speaks the whole host <-> agent protocol (docs/agents.md) in a few lines: it says "ready",
// then reads one JSON line per task on stdin and writes "progress" and one "result" (or "error")
// line per task on stdout. Logs go to stderr; stdout carries protocol lines only.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
)

const protocolVersion = 1

// task is the host's "task" line.
type task struct {
	V       int                    `json:"v"`
	Type    string                 `json:"type"`
	ID      string                 `json:"id"`
	Intent  string                 `json:"intent"`
	Args    map[string]interface{} `json:"args"`
	Context map[string]interface{} `json:"context"`
}

func main() {
	out := json.NewEncoder(os.Stdout) // one Encode = one line
	send := func(msg map[string]interface{}) {
		msg["v"] = protocolVersion
		if err := out.Encode(msg); err != nil {
			fmt.Fprintln(os.Stderr, "echo: write:", err)
			os.Exit(1)
		}
	}

	send(map[string]interface{}{"type": "ready", "agent": "echo"})

	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 64*1024), 1<<20) // the host's line limit is 1 MiB
	for in.Scan() {
		var t task
		if err := json.Unmarshal(in.Bytes(), &t); err != nil || t.Type != "task" {
			fmt.Fprintln(os.Stderr, "echo: ignoring a line that is not a task")
			continue
		}
		send(map[string]interface{}{"type": "progress", "id": t.ID, "message": "echoing"})
		text, _ := t.Args["text"].(string)
		if text == "" {
			text = "You said nothing."
		}
		send(map[string]interface{}{
			"type": "result",
			"id":   t.ID,
			"text": text,
			"data": map[string]interface{}{"intent": t.Intent, "args": t.Args, "context": t.Context},
		})
	}
	// stdin closed: the host is done with this container.
}
