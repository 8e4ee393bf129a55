// Timer keeps kitchen timers. It is a warm agent: timers live in the running container, and when
// one fires the agent calls `notify` between tasks (a call without a task id), so the node that
// set the timer says so. Timers are lost if the container is replaced.
package main

import (
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
		case "add":
			return state.add(h, t)
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
	if label == "" {
		// "Set a 5-minute timer.", never "5 minutes timer set for 5 minutes."
		if adj := lengthAdjective(span); adj != "" {
			return fmt.Sprintf("Set a %s timer.", adj), tm.data(), nil
		}
		return fmt.Sprintf("Set a timer for %s.", spoken(span)), tm.data(), nil
	}
	return fmt.Sprintf("Set the %s for %s.", tm.name(), spoken(span)), tm.data(), nil
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

// pick finds the timers a task means: the one with its id (a follow-up to the command that set
// it), else those with its label and, when span is not 0, that length ("cancel the 2 minute
// timer"), else all. Called with s.mu held.
func (s *timers) pick(t task, span time.Duration) (match []*timer, label string, err error) {
	if id, ok := t.integer("id"); ok {
		tm, live := s.byID[id]
		if !live {
			return nil, "", fail("no_such_timer", "That timer is no longer running.")
		}
		return []*timer{tm}, tm.label, nil
	}
	label = strings.ToLower(strings.TrimSpace(t.str("label")))
	for _, tm := range s.sorted() {
		if (label == "" || strings.ToLower(tm.label) == label) && (span == 0 || tm.span == span) {
			match = append(match, tm)
		}
	}
	return match, label, nil
}

func (s *timers) cancel(t task) (string, interface{}, error) {
	// "cancel the 2 minute timer": the timer of that length
	minutes, _ := t.integer("minutes")
	seconds, _ := t.integer("seconds")
	span := time.Duration(minutes)*time.Minute + time.Duration(seconds)*time.Second
	s.mu.Lock()
	defer s.mu.Unlock()
	match, label, err := s.pick(t, span)
	if err != nil {
		return "", nil, err
	}
	switch {
	case len(match) == 0 && label != "":
		return "", nil, fail("no_such_timer", "There is no %s timer.", label)
	case len(match) == 0 && span != 0:
		return "", nil, fail("no_such_timer", "There is no %s.", timerOf(span))
	case len(match) == 0:
		return "There is no timer to cancel.", map[string]interface{}{"cancelled": []interface{}{}}, nil
	case len(match) > 1 && label == "" && span == 0:
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

// add puts more time on one timer: "add five minutes" after "set a timer for ten minutes".
func (s *timers) add(h *host, t task) (string, interface{}, error) {
	minutes, _ := t.integer("minutes")
	seconds, _ := t.integer("seconds")
	more := time.Duration(minutes)*time.Minute + time.Duration(seconds)*time.Second
	if more <= 0 {
		return "", nil, fail("invalid_duration", "Say how much time to add, for example five minutes.")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	match, label, err := s.pick(t, 0)
	if err != nil {
		return "", nil, err
	}
	switch {
	case len(match) == 0 && label != "":
		return "", nil, fail("no_such_timer", "There is no %s timer.", label)
	case len(match) == 0:
		return "", nil, fail("no_timer", "There is no timer to add time to.")
	case len(match) > 1:
		return "", nil, fail("which_timer", "You have %d timers: %s. Which one?", len(match), names(match))
	}
	tm := match[0]
	left := time.Until(tm.ends) + more
	if left > maxDuration {
		return "", nil, fail("invalid_duration", "A timer can run for at most 24 hours.")
	}
	name := tm.name() // the name people know it by, before its span changes
	tm.fire.Stop()
	tm.span += more
	tm.ends = time.Now().Add(left)
	tm.fire = time.AfterFunc(left, func() { s.fired(h, tm) })
	return fmt.Sprintf("Added %s to the %s; %s left.", spoken(more), name, spoken(left)), tm.data(), nil
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

// name is how the timer is spoken of: "tea timer", "5-minute timer", "timer of 1 hour 30 minutes".
func (tm *timer) name() string {
	if tm.label != "" {
		return tm.label + " timer"
	}
	return timerOf(tm.span)
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

// lengthAdjective says a duration of one unit as people put it before a noun: "5-minute",
// "90-second", "1-hour"; "" for a mixed one ("1 hour 30 minutes").
func lengthAdjective(d time.Duration) string {
	d = d.Round(time.Second)
	for _, u := range []struct {
		size time.Duration
		unit string
	}{{time.Hour, "hour"}, {time.Minute, "minute"}, {time.Second, "second"}} {
		if d >= u.size && d%u.size == 0 {
			return strconv.Itoa(int(d/u.size)) + "-" + u.unit
		}
	}
	return ""
}

func timerOf(d time.Duration) string {
	if adj := lengthAdjective(d); adj != "" {
		return adj + " timer"
	}
	return "timer of " + spoken(d)
}
