// Command hot is a CPU-bound benchmark for the profiler tests: for the
// given seconds it calls main.hotSpin in a loop and main.slowPath every
// Nth time, then prints results.csv lines (iterations and their rate).
package main

import (
	"fmt"
	"os"
	"strconv"
	"syscall"
	"time"
)

//go:noinline
func hotSpin(n int) uint64 {
	var s uint64
	for i := 0; i < n; i++ {
		s += uint64(i)*uint64(i) ^ s>>3
	}
	return s
}

//go:noinline
func slowPath(n int) uint64 {
	var s uint64
	for i := 0; i < n; i++ {
		s ^= uint64(i) * 2654435761
	}
	return s
}

func main() {
	secs, err := strconv.ParseFloat(os.Args[1], 64)
	if err != nil {
		fmt.Fprintln(os.Stderr, "usage: hot SECONDS [SLOW-EVERY]")
		os.Exit(2)
	}
	every := 10
	if len(os.Args) > 2 {
		every, _ = strconv.Atoi(os.Args[2])
	}
	start := time.Now()
	end := start.Add(time.Duration(secs * float64(time.Second)))
	var s uint64
	n := 0
	for ; time.Now().Before(end); n++ {
		s += hotSpin(200000)
		if every > 0 && n%every == 0 {
			s += slowPath(200000)
		}
	}
	el := time.Since(start).Seconds()
	// CPU time per iteration holds steadier than the rate on a shared
	// machine: other processes take wall time, not this one's CPU time.
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	cpu := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	fmt.Printf("Iterations, %d\nRate, %.1f\nCPUPerIteration, %.2fus\nChecksum, %d\n", n, float64(n)/el,
		float64(cpu.Microseconds())/float64(max(n, 1)), s%1000)
}
