// Nap sleeps for the asked seconds, then answers (a slow cold agent for the agentsvc tests).
package main

import (
	"bufio"
	"encoding/json"
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
	_ = out.Encode(map[string]interface{}{"v": 1, "type": "ready", "agent": "nap"})
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		var t task
		if err := json.Unmarshal(in.Bytes(), &t); err != nil || t.Type != "task" {
			continue
		}
		seconds, _ := t.Args["seconds"].(float64)
		_ = out.Encode(map[string]interface{}{"v": 1, "type": "progress", "id": t.ID, "message": "napping"})
		time.Sleep(time.Duration(seconds * float64(time.Second)))
		_ = out.Encode(map[string]interface{}{"v": 1, "type": "result", "id": t.ID, "text": "awake", "data": nil})
	}
}
