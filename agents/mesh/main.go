// Mesh answers questions about the household's mesh: which devices are online and what is
// running where. It asks the host for the mesh as the host sees it (`mesh.status`).
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
)

// status is the `mesh.status` reply (docs/agents.md).
type status struct {
	Self  string `json:"self"`
	Nodes []struct {
		Name    string   `json:"name"`
		State   string   `json:"state"`
		Roles   []string `json:"roles"`
		Running []struct {
			Agent string `json:"agent"`
			Count int    `json:"count"`
		} `json:"running"`
		Warm []struct {
			Agent string `json:"agent"`
			Idle  int    `json:"idle"`
			Busy  int    `json:"busy"`
		} `json:"warm"`
	} `json:"nodes"`
}

func main() {
	newHost().serve("mesh", func(h *host, t task) (string, interface{}, error) {
		var st status
		if err := h.call(t.ID, "mesh.status", map[string]interface{}{}, &st); err != nil {
			return "", nil, fail("no_status", "I could not see the mesh: %v", err)
		}
		sort.Slice(st.Nodes, func(i, j int) bool { return st.Nodes[i].Name < st.Nodes[j].Name })
		switch t.Intent {
		case "online":
			return online(st), st, nil
		case "running":
			return running(st), st, nil
		}
		return "", nil, fail("unknown_intent", "mesh does not know the intent %q", t.Intent)
	})
}

func online(st status) string {
	var up, quiet []string
	for _, n := range st.Nodes {
		switch n.State {
		case "alive":
			up = append(up, n.Name)
		case "suspect":
			quiet = append(quiet, n.Name)
		}
	}
	var out string
	switch len(up) {
	case 0:
		out = "No devices are online."
	case 1:
		out = "One device is online: " + up[0] + "."
	default:
		out = fmt.Sprintf("%d devices are online: %s.", len(up), join(up))
	}
	if len(quiet) == 1 {
		out += " " + quiet[0] + " is not answering."
	} else if len(quiet) > 1 {
		out += " " + join(quiet) + " are not answering."
	}
	return out
}

func running(st status) string {
	var parts []string
	for _, n := range st.Nodes {
		if n.State != "alive" {
			continue
		}
		var busy, warm []string
		for _, r := range n.Running {
			if r.Count == 1 {
				busy = append(busy, r.Agent)
			} else if r.Count > 1 {
				busy = append(busy, r.Agent+" "+strconv.Itoa(r.Count)+" times")
			}
		}
		for _, w := range n.Warm {
			if w.Idle+w.Busy > 0 {
				warm = append(warm, w.Agent)
			}
		}
		var says []string
		if len(busy) > 0 {
			says = append(says, join(busy)+" running")
		}
		if len(warm) > 0 {
			says = append(says, join(warm)+" ready")
		}
		if len(says) > 0 {
			parts = append(parts, "on "+n.Name+", "+strings.Join(says, " and "))
		}
	}
	if len(parts) == 0 {
		return "Nothing is running anywhere."
	}
	text := strings.Join(parts, "; ") + "."
	return strings.ToUpper(text[:1]) + text[1:]
}

func join(parts []string) string {
	if len(parts) < 2 {
		return strings.Join(parts, "")
	}
	return strings.Join(parts[:len(parts)-1], ", ") + " and " + parts[len(parts)-1]
}

// ---- the host <-> agent protocol (docs/agents.md); the same block in every shipped agent ----

const protocolVersion = 1

// task is the host's "task" line.
type task struct {
	ID      string                     `json:"id"`
	Intent  string                     `json:"intent"`
	Args    map[string]json.RawMessage `json:"args"`
	Context taskContext                `json:"context"`
}

type taskContext struct {
	Node   string                     `json:"node"`
	Host   string                     `json:"host"`
	Config map[string]json.RawMessage `json:"config"`
}

// inbound is any line from the host: a "task" or a "reply" to one of our calls.
type inbound struct {
	V    int    `json:"v"`
	Type string `json:"type"`
	task
	CallID string          `json:"call_id"`
	OK     bool            `json:"ok"`
	Result json.RawMessage `json:"result"`
	Error  string          `json:"error"`
}

// agentError is an error with a short code the host passes on (e.g. "unknown_room").
type agentError struct{ code, message string }

func (e *agentError) Error() string { return e.message }

func fail(code, format string, a ...interface{}) error {
	return &agentError{code: code, message: fmt.Sprintf(format, a...)}
}

// host is this agent's side of the conversation: one writer on stdout, replies routed by call_id.
type host struct {
	mu      sync.Mutex
	out     *bufio.Writer
	pending map[string]chan inbound
	calls   int
}

func newHost() *host {
	return &host{out: bufio.NewWriter(os.Stdout), pending: map[string]chan inbound{}}
}

func (h *host) send(msg map[string]interface{}) {
	msg["v"] = protocolVersion
	line, err := json.Marshal(msg)
	if err != nil {
		line, _ = json.Marshal(map[string]interface{}{"v": protocolVersion, "type": "error", "id": msg["id"], "message": "cannot encode the answer: " + err.Error()})
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.out.Write(line)
	h.out.WriteByte('\n')
	if err := h.out.Flush(); err != nil {
		fmt.Fprintln(os.Stderr, "stdout:", err)
		os.Exit(1)
	}
}

func (h *host) progress(taskID, message string) {
	h.send(map[string]interface{}{"type": "progress", "id": taskID, "message": message})
}

// call asks the host for an effect and waits for its reply. taskID is empty for a call made
// between tasks (a timer firing).
func (h *host) call(taskID, method string, params, result interface{}) error {
	h.mu.Lock()
	h.calls++
	callID := "c" + strconv.Itoa(h.calls)
	reply := make(chan inbound, 1)
	h.pending[callID] = reply
	h.mu.Unlock()
	msg := map[string]interface{}{"type": "call", "call_id": callID, "method": method, "params": params}
	if taskID != "" {
		msg["id"] = taskID
	}
	h.send(msg)
	r, ok := <-reply
	if !ok {
		return fmt.Errorf("%s: the host went away", method)
	}
	if !r.OK {
		return fmt.Errorf("%s: %s", method, r.Error)
	}
	if result != nil {
		return json.Unmarshal(r.Result, result)
	}
	return nil
}

// serve says ready, then runs tasks one at a time until the host closes stdin.
func (h *host) serve(agent string, handle func(h *host, t task) (string, interface{}, error)) {
	tasks := make(chan task, 16)
	go h.read(tasks)
	h.send(map[string]interface{}{"type": "ready", "agent": agent})
	for t := range tasks {
		text, data, err := runTask(h, t, handle)
		if err != nil {
			msg := map[string]interface{}{"type": "error", "id": t.ID, "message": err.Error()}
			if ae, ok := err.(*agentError); ok && ae.code != "" {
				msg["code"] = ae.code
			}
			h.send(msg)
			continue
		}
		h.send(map[string]interface{}{"type": "result", "id": t.ID, "text": text, "data": data})
	}
}

func runTask(h *host, t task, handle func(h *host, t task) (string, interface{}, error)) (text string, data interface{}, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("internal error: %v", p)
		}
	}()
	return handle(h, t)
}

func (h *host) read(tasks chan<- task) {
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 64*1024), 1<<20)
	for in.Scan() {
		var m inbound
		if err := json.Unmarshal(in.Bytes(), &m); err != nil {
			fmt.Fprintln(os.Stderr, "ignoring a line that is not JSON:", err)
			continue
		}
		switch m.Type {
		case "task":
			tasks <- m.task
		case "reply":
			h.mu.Lock()
			reply := h.pending[m.CallID]
			delete(h.pending, m.CallID)
			h.mu.Unlock()
			if reply != nil {
				reply <- m
			}
		}
	}
	close(tasks)
	h.mu.Lock()
	for id, reply := range h.pending {
		close(reply)
		delete(h.pending, id)
	}
	h.mu.Unlock()
}

// str, integer: typed task arguments (the host validated them against agent.toml).
func (t task) str(name string) string {
	var s string
	if raw, ok := t.Args[name]; ok {
		json.Unmarshal(raw, &s)
	}
	return s
}

func (t task) integer(name string) (int, bool) {
	raw, ok := t.Args[name]
	if !ok {
		return 0, false
	}
	var f float64
	if err := json.Unmarshal(raw, &f); err != nil {
		return 0, false
	}
	return int(f), true
}
