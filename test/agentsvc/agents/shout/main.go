// Shout answers each task with its text in capitals (a cold agent for the agentsvc tests).
package main

import (
	"bufio"
	"encoding/json"
	"os"
	"strings"
)

type task struct {
	Type string                 `json:"type"`
	ID   string                 `json:"id"`
	Args map[string]interface{} `json:"args"`
}

func main() {
	out := json.NewEncoder(os.Stdout)
	_ = out.Encode(map[string]interface{}{"v": 1, "type": "ready", "agent": "shout"})
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 64*1024), 1<<20)
	for in.Scan() {
		var t task
		if err := json.Unmarshal(in.Bytes(), &t); err != nil || t.Type != "task" {
			continue
		}
		text, _ := t.Args["text"].(string)
		_ = out.Encode(map[string]interface{}{"v": 1, "type": "result", "id": t.ID, "text": strings.ToUpper(text), "data": nil})
	}
}
