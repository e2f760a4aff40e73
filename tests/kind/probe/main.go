// kfs-probe: from inside a pod, resolve a Service by name through the pod's resolv.conf (the
// cluster DNS) and GET a URL on it; prints the address and the body, retrying for a while.
package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"time"
)

func main() {
	host, path := os.Args[1], os.Args[2]
	var last error
	for attempt := 0; attempt < 30; attempt++ {
		addrs, err := net.LookupHost(host)
		if err == nil {
			client := http.Client{Timeout: 3 * time.Second}
			resp, err2 := client.Get("http://" + host + path)
			if err2 == nil {
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				fmt.Printf("resolved %s -> %v\nGET %s: %d %s\n", host, addrs, path, resp.StatusCode, body)
				return
			}
			err = err2
		}
		last = err
		time.Sleep(2 * time.Second)
	}
	fmt.Printf("probe failed: %v\n", last)
	os.Exit(1)
}
