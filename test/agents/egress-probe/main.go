// The egress firewall test's probe: for each host:port argument, a TCP connect and a UDP
// datagram, one line each ("tcp <target> ok" or "tcp <target> err <why>"; "udp <target> sent").
package main

import (
	"fmt"
	"net"
	"os"
	"time"
)

func main() {
	for _, target := range os.Args[1:] {
		c, err := net.DialTimeout("tcp", target, 3*time.Second)
		if err != nil {
			fmt.Printf("tcp %s err %v\n", target, err)
		} else {
			c.Close()
			fmt.Printf("tcp %s ok\n", target)
		}
		u, err := net.Dial("udp", target)
		if err == nil {
			u.Write([]byte(target))
			u.Close()
		}
		fmt.Printf("udp %s sent\n", target)
	}
}
