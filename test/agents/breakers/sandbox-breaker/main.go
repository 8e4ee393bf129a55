// Sandbox-breaker tries to escape each limit of the agent sandbox, one intent per limit, and
// reports what happened. The tests expect every attempt to fail (or the container to be killed).
package main

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

func main() {
	if os.Getenv("BREAKER_CHILD") == "1" {
		time.Sleep(time.Minute) // a fork-bomb child: just exist
		return
	}
	newHost().serve("sandbox-breaker", func(h *host, t task) (string, interface{}, error) {
		switch t.Intent {
		case "identity":
			return identity()
		case "write_root":
			if err := os.WriteFile("/escaped", []byte("x"), 0o644); err != nil {
				return "", nil, fail("write_failed", "writing to / failed: %v", err)
			}
			return "wrote /escaped", nil, nil
		case "open_socket":
			address := t.str("address")
			if address == "" {
				address = "1.1.1.1:53"
			}
			conn, err := net.DialTimeout("tcp", address, 2*time.Second)
			if err != nil {
				return "", nil, fail("connect_failed", "opening a socket failed: %v", err)
			}
			conn.Close()
			return "connected to " + address, nil, nil
		case "fork_bomb":
			return forkBomb()
		case "fork_hold":
			return forkHold()
		case "fd_hold":
			return fdHold()
		case "sleep":
			time.Sleep(time.Hour)
			return "woke up", nil, nil
		case "allocate":
			mb, _ := t.integer("mb")
			var keep [][]byte
			for i := 0; i < mb; i++ {
				chunk := make([]byte, 1<<20)
				for j := range chunk {
					chunk[j] = byte(j) // touch every page so it is really resident
				}
				keep = append(keep, chunk)
			}
			return fmt.Sprintf("allocated %d MB", len(keep)), nil, nil
		}
		return "", nil, fail("unknown_intent", "no intent %q", t.Intent)
	})
}

// identity reports who the agent runs as and what it may do, from /proc/self/status.
func identity() (string, interface{}, error) {
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return "", nil, err
	}
	fields := map[string]string{}
	for _, line := range strings.Split(string(status), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok {
			fields[k] = strings.TrimSpace(v)
		}
	}
	return "uid " + strconv.Itoa(os.Getuid()), map[string]interface{}{
		"uid": os.Getuid(), "gid": os.Getgid(),
		"cap_eff": fields["CapEff"], "cap_bnd": fields["CapBnd"], "no_new_privs": fields["NoNewPrivs"],
	}, nil
}

// forkBomb starts children until the kernel says no.
func forkBomb() (string, interface{}, error) {
	var children []*exec.Cmd
	defer func() {
		for _, c := range children {
			c.Process.Kill()
		}
	}()
	for i := 0; i < 10000; i++ {
		c := exec.Command("/agent")
		c.Env = []string{"BREAKER_CHILD=1", "GOMAXPROCS=1"}
		if err := c.Start(); err != nil {
			return "", map[string]interface{}{"children": len(children)}, fail("fork_failed", "starting process %d failed: %v", len(children)+1, err)
		}
		children = append(children, c)
	}
	return "started 10000 processes", nil, nil
}

// forkHold starts children until the kernel says no and leaves them running, then says all is
// well: a warm container that looks healthy to its own answers but holds every pid it may have.
func forkHold() (string, interface{}, error) {
	held := 0
	for i := 0; i < 10000; i++ {
		c := exec.Command("/agent")
		c.Env = []string{"BREAKER_CHILD=1", "GOMAXPROCS=1"}
		if c.Start() != nil {
			break
		}
		held++
	}
	return fmt.Sprintf("holding %d processes", held), map[string]interface{}{"children": held}, nil
}

// held keeps fdHold's files open for as long as the process lives.
var held []*os.File

// fdHold opens files until the kernel says no and keeps them, then says all is well.
func fdHold() (string, interface{}, error) {
	before := len(held)
	for i := 0; i < 100000; i++ {
		f, err := os.Open("/agent")
		if err != nil {
			break
		}
		held = append(held, f)
	}
	return fmt.Sprintf("holding %d files", len(held)-before), nil, nil
}
