// The Go side of the host <-> agent protocol (docs/agents.md), shared by every agent.
//
// HelixOS builds each agent from its own folder plus this file, so an agent's main.go holds only
// its own logic and calls newHost().serve(name, handle). It is `package main` and uses the Go
// standard library only. Changing this file changes every agent's content hash (and so rebuilds
// every image). Authors in other languages speak the JSON lines described in docs/agents.md.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"sync"
)

const protocolVersion = 1

// task is the host's "task" line.
type task struct {
	ID      string                     `json:"id"`
	Intent  string                     `json:"intent"`
	Args    map[string]json.RawMessage `json:"args"`
	Context taskContext                `json:"context"`
}

type taskContext struct {
	Node       string                     `json:"node"`
	Host       string                     `json:"host"`
	TraceID    string                     `json:"trace_id"`
	DeadlineMs int64                      `json:"deadline_ms"`
	Config     map[string]json.RawMessage `json:"config"`
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

// serve says ready, then runs tasks one at a time until the host closes stdin. handle returns
// the sentence to say and any data, or an error (use fail for one with a code).
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
	in.Buffer(make([]byte, 64*1024), 1<<20) // the host's line limit is 1 MiB
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

// str, number, integer: typed task arguments (the host validated them against agent.toml).
func (t task) str(name string) string {
	var s string
	if raw, ok := t.Args[name]; ok {
		json.Unmarshal(raw, &s)
	}
	return s
}

func (t task) number(name string) (float64, bool) {
	raw, ok := t.Args[name]
	if !ok {
		return 0, false
	}
	var f float64
	if err := json.Unmarshal(raw, &f); err != nil {
		return 0, false
	}
	return f, true
}

func (t task) integer(name string) (int, bool) {
	f, ok := t.number(name)
	return int(f), ok
}
