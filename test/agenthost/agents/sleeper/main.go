// Sleeper sleeps for the requested seconds (default 600), then answers. The agenthost tests
// cancel it mid-sleep and check that its container is gone long before it would wake.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"time"
)

type task struct {
	Type string                 `json:"type"`
	ID   string                 `json:"id"`
	Args map[string]interface{} `json:"args"`
}

func main() {
	out := json.NewEncoder(os.Stdout)
	send := func(msg map[string]interface{}) {
		msg["v"] = 1
		if err := out.Encode(msg); err != nil {
			os.Exit(1)
		}
	}
	send(map[string]interface{}{"type": "ready", "agent": "sleeper"})
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 64*1024), 1<<20)
	for in.Scan() {
		var t task
		if err := json.Unmarshal(in.Bytes(), &t); err != nil || t.Type != "task" {
			continue
		}
		seconds := 600.0
		if s, ok := t.Args["seconds"].(float64); ok {
			seconds = s
		}
		send(map[string]interface{}{"type": "progress", "id": t.ID, "message": "sleeping"})
		time.Sleep(time.Duration(seconds * float64(time.Second)))
		send(map[string]interface{}{"type": "result", "id": t.ID, "text": fmt.Sprintf("slept %g s", seconds)})
	}
}
