// A Go client for the ldmesh-exec tests, built by the test itself, pure
// (CGO_ENABLED=0: Go's own resolver and raw connect syscalls) or with cgo
// (-tags netcgo: names through the libc resolver; connects still raw).
//
//	goclient http URL N    GET URL N times (a fresh connection each), print each body
//	goclient dial ADDR     one HTTP/1.0 request by hand: "<RemoteAddr> <body>"
package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"
)

func main() {
	if len(os.Args) < 3 {
		fmt.Fprintln(os.Stderr, "usage: goclient http URL N | dial HOST:PORT")
		os.Exit(2)
	}
	switch os.Args[1] {
	case "http":
		n, _ := strconv.Atoi(os.Args[3])
		client := &http.Client{Timeout: 5 * time.Second,
			Transport: &http.Transport{DisableKeepAlives: true}}
		for i := 0; i < n; i++ {
			resp, err := client.Get(os.Args[2])
			if err != nil {
				fmt.Println("error:", err)
				continue
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			fmt.Println(strings.TrimSpace(string(body)))
		}
	case "dial":
		c, err := net.DialTimeout("tcp", os.Args[2], 5*time.Second)
		if err != nil {
			fmt.Println("error:", err)
			os.Exit(1)
		}
		fmt.Fprintf(c, "GET / HTTP/1.0\r\n\r\n")
		resp, _ := io.ReadAll(c)
		c.Close()
		parts := strings.SplitN(string(resp), "\r\n\r\n", 2)
		fmt.Println(c.RemoteAddr().String(), strings.TrimSpace(parts[len(parts)-1]))
	}
}
