// Timer keeps kitchen timers. It is a warm agent: timers live in the running container, and when
// one fires the agent calls `notify` between tasks (a call without a task id), so the node that
// set the timer says so. Timers are lost if the container is replaced.
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
	"time"
)

const maxDuration = 24 * time.Hour

type timer struct {
	id    int
	label string
	span  time.Duration
	ends  time.Time
	node  string // who asked: notify goes there
	fire  *time.Timer
}

// timers is the agent's state; tasks run one at a time, timers fire on their own goroutines.
type timers struct {
	mu     sync.Mutex
	byID   map[int]*timer
	nextID int
}

func main() {
	state := &timers{byID: map[int]*timer{}}
	newHost().serve("timer", func(h *host, t task) (string, interface{}, error) {
		switch t.Intent {
		case "set":
			return state.set(h, t)
		case "cancel":
			return state.cancel(t)
		case "list":
			return state.list()
		}
		return "", nil, fail("unknown_intent", "timer does not know the intent %q", t.Intent)
	})
}

func (s *timers) set(h *host, t task) (string, interface{}, error) {
	minutes, _ := t.integer("minutes")
	seconds, _ := t.integer("seconds")
	span := time.Duration(minutes)*time.Minute + time.Duration(seconds)*time.Second
	if span <= 0 || span > maxDuration {
		return "", nil, fail("invalid_duration", "Say how long, between one second and 24 hours.")
	}
	label := strings.TrimSpace(t.str("label"))

	s.mu.Lock()
	defer s.mu.Unlock()
	s.nextID++
	tm := &timer{id: s.nextID, label: label, span: span, ends: time.Now().Add(span), node: t.Context.Node}
	s.byID[tm.id] = tm
	tm.fire = time.AfterFunc(span, func() { s.fired(h, tm) })
	return fmt.Sprintf("%s set for %s.", capitalise(tm.name()), spoken(span)), tm.data(), nil
}

func (s *timers) fired(h *host, tm *timer) {
	s.mu.Lock()
	_, live := s.byID[tm.id]
	delete(s.byID, tm.id)
	s.mu.Unlock()
	if !live {
		return
	}
	params := map[string]interface{}{"text": fmt.Sprintf("Your %s is done.", tm.name()), "data": tm.data()}
	if tm.node != "" {
		params["node"] = tm.node
	}
	if err := h.call("", "notify", params, nil); err != nil {
		fmt.Fprintln(os.Stderr, "timer: notify:", err)
	}
}

func (s *timers) cancel(t task) (string, interface{}, error) {
	label := strings.ToLower(strings.TrimSpace(t.str("label")))
	s.mu.Lock()
	defer s.mu.Unlock()
	var match []*timer
	for _, tm := range s.sorted() {
		if label == "" || strings.ToLower(tm.label) == label {
			match = append(match, tm)
		}
	}
	switch {
	case len(match) == 0 && label != "":
		return "", nil, fail("no_such_timer", "There is no %s timer.", label)
	case len(match) == 0:
		return "There is no timer to cancel.", map[string]interface{}{"cancelled": []interface{}{}}, nil
	case len(match) > 1 && label == "":
		return "", nil, fail("which_timer", "You have %d timers: %s. Which one?", len(match), names(match))
	}
	cancelled := make([]interface{}, 0, len(match))
	for _, tm := range match {
		tm.fire.Stop()
		delete(s.byID, tm.id)
		cancelled = append(cancelled, tm.data())
	}
	return fmt.Sprintf("Cancelled the %s.", match[0].name()), map[string]interface{}{"cancelled": cancelled}, nil
}

func (s *timers) list() (string, interface{}, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	all := s.sorted()
	data := make([]interface{}, 0, len(all))
	parts := make([]string, 0, len(all))
	for _, tm := range all {
		data = append(data, tm.data())
		parts = append(parts, fmt.Sprintf("the %s with %s left", tm.name(), spoken(time.Until(tm.ends))))
	}
	switch len(all) {
	case 0:
		return "There are no timers.", map[string]interface{}{"timers": data}, nil
	case 1:
		return "You have one timer: " + parts[0] + ".", map[string]interface{}{"timers": data}, nil
	}
	return fmt.Sprintf("You have %d timers: %s.", len(all), join(parts)), map[string]interface{}{"timers": data}, nil
}

func (s *timers) sorted() []*timer {
	out := make([]*timer, 0, len(s.byID))
	for _, tm := range s.byID {
		out = append(out, tm)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ends.Before(out[j].ends) })
	return out
}

func (tm *timer) name() string {
	if tm.label != "" {
		return tm.label + " timer"
	}
	return spoken(tm.span) + " timer"
}

func (tm *timer) data() map[string]interface{} {
	return map[string]interface{}{
		"id": tm.id, "label": tm.label, "seconds": int(tm.span / time.Second),
		"ends_at": tm.ends.UTC().Format(time.RFC3339),
	}
}

func names(ts []*timer) string {
	out := make([]string, len(ts))
	for i, tm := range ts {
		out[i] = tm.name()
	}
	return join(out)
}

// spoken says a duration the way people do: "5 minutes", "1 hour 30 minutes", "45 seconds".
func spoken(d time.Duration) string {
	d = d.Round(time.Second)
	if d < time.Second {
		d = time.Second
	}
	h, m, s := int(d/time.Hour), int(d%time.Hour/time.Minute), int(d%time.Minute/time.Second)
	var parts []string
	for _, p := range []struct {
		n    int
		unit string
	}{{h, "hour"}, {m, "minute"}, {s, "second"}} {
		if p.n == 1 {
			parts = append(parts, "1 "+p.unit)
		} else if p.n > 1 {
			parts = append(parts, strconv.Itoa(p.n)+" "+p.unit+"s")
		}
	}
	return strings.Join(parts, " ")
}

func join(parts []string) string {
	if len(parts) < 2 {
		return strings.Join(parts, "")
	}
	return strings.Join(parts[:len(parts)-1], ", ") + " and " + parts[len(parts)-1]
}

func capitalise(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
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
