// sleep-once sleeps for the requested seconds, then answers. The mesh-agents tests kill its host
// mid-sleep and check what the node that asked does about it.
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
	send(map[string]interface{}{"type": "ready", "agent": "sleep-once"})
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 64*1024), 1<<20)
	for in.Scan() {
		var t task
		if err := json.Unmarshal(in.Bytes(), &t); err != nil || t.Type != "task" {
			fmt.Fprintln(os.Stderr, "sleep-once: ignoring a line that is not a task")
			continue
		}
		seconds, _ := t.Args["seconds"].(float64)
		send(map[string]interface{}{"type": "progress", "id": t.ID, "message": "sleeping"})
		time.Sleep(time.Duration(seconds * float64(time.Second)))
		send(map[string]interface{}{"type": "result", "id": t.ID, "text": fmt.Sprintf("slept %g s", seconds)})
	}
}
