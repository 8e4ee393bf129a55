// Protocol-breaker breaks the host <-> agent protocol on request, and crashes or hangs on
// request; the tests expect each task to end with a clear error while the warm pool lives on.
package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

func main() {
	newHost().serve("protocol-breaker", func(h *host, t task) (string, interface{}, error) {
		switch t.Intent {
		case "ok":
			return "fine", map[string]interface{}{"pid": os.Getpid()}, nil
		case "invalid_json":
			h.raw(`{"v":1,"type":"result","id":` + strconv.Quote(t.ID) + `,"text":`)
		case "too_long":
			h.raw(`{"v":1,"type":"progress","id":` + strconv.Quote(t.ID) + `,"message":"` + strings.Repeat("x", 2<<20) + `"}`)
		case "unknown_type":
			h.raw(`{"v":1,"type":"teleport","id":` + strconv.Quote(t.ID) + `}`)
		case "undeclared_call":
			err := h.call(t.ID, "mqtt.publish", map[string]interface{}{"topic": "x/y/set", "payload": "ON"}, nil)
			if err != nil {
				return "", nil, fail("refused", "%v", err)
			}
			return "published without asking", nil, nil
		case "crash":
			fmt.Fprintln(os.Stderr, "protocol-breaker: crashing on purpose")
			os.Exit(3)
		case "hang":
			time.Sleep(time.Hour)
		}
		// After a broken line the host ends the task; wait to be stopped.
		time.Sleep(time.Hour)
		return "", nil, nil
	})
}

// raw writes one line as is, bypassing the JSON encoder.
func (h *host) raw(line string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.out.WriteString(line + "\n")
	h.out.Flush()
}
