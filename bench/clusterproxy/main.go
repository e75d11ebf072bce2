// Command clusterproxy forwards TCP connections with an added one-way delay
// in each direction: a stand-in for tc netem on kernels without sch_netem,
// used by bench/cluster.sh. Each chunk read is written to the other side
// delay after it arrived, in order, so a connection sees the round-trip time
// 2 x delay without losing bandwidth.
//
//	clusterproxy -listen 127.0.0.1:4222 -to 10.77.0.1:4222 -delay 50ms
package main

import (
	"flag"
	"log"
	"net"
	"time"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:4222", "address to accept connections on")
	to := flag.String("to", "", "address to forward them to")
	delay := flag.Duration("delay", 0, "one-way delay added in each direction")
	flag.Parse()
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		log.Fatal(err)
	}
	for {
		c, err := ln.Accept()
		if err != nil {
			log.Fatal(err)
		}
		go func() {
			u, err := net.Dial("tcp", *to)
			if err != nil {
				log.Print(err)
				c.Close()
				return
			}
			go pump(u, c, *delay)
			pump(c, u, *delay)
		}()
	}
}

type chunk struct {
	b   []byte
	due time.Time
}

// pump copies src to dst, each chunk delay after it was read.
func pump(dst, src net.Conn, delay time.Duration) {
	q := make(chan chunk, 1<<14)
	go func() {
		defer close(q)
		for {
			b := make([]byte, 64<<10)
			n, err := src.Read(b)
			if n > 0 {
				q <- chunk{b[:n], time.Now().Add(delay)}
			}
			if err != nil {
				return
			}
		}
	}()
	failed := false
	for c := range q {
		if failed {
			continue // drain, so the reader ends
		}
		if d := time.Until(c.due); d > 0 {
			time.Sleep(d)
		}
		if _, err := dst.Write(c.b); err != nil {
			failed = true
			src.Close()
		}
	}
	if tc, ok := dst.(*net.TCPConn); ok && !failed {
		tc.CloseWrite()
	} else {
		dst.Close()
	}
}
