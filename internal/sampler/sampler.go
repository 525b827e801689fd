// Package sampler reads a host's figures from /proc: CPU (total and per
// CPU), memory, disks, network, load, context switches, and per-process CPU
// and RSS. Rates and percentages come from the difference between two
// consecutive samples, so the first sample holds only the gauges.
package sampler

import (
	"bufio"
	"bytes"
	"os"
	"strconv"
	"time"
)

// Point is one figure of one sample.
type Point struct {
	Metric string
	Value  float64
}

// Sampler keeps what the previous sample read.
type Sampler struct {
	// Proc is the procfs mount, /proc unless a test says otherwise.
	Proc string
	// Sys is the sysfs mount, used to tell whole disks from partitions.
	Sys string

	prevAt   time.Time
	cpu      map[string][8]uint64
	ctxt     uint64
	disks    map[string][4]uint64
	nets     map[string][4]uint64
	procs    map[int]uint64
	buf      []byte
	whole    map[string]bool // wholeDisk's answers since wholeAt
	wholeAt  time.Time
	pageSize float64
	clkTck   float64
}

// New returns a sampler of this host.
func New() *Sampler {
	return &Sampler{Proc: "/proc", Sys: "/sys", pageSize: float64(os.Getpagesize()), clkTck: 100}
}

// Sample reads every figure now, with per-process figures for pids.
func (s *Sampler) Sample(now time.Time, pids []int) []Point {
	var out []Point
	dt := now.Sub(s.prevAt).Seconds()
	if s.prevAt.IsZero() || dt <= 0 {
		dt = 0
	}
	out = s.cpuStat(out, dt)
	out = s.memInfo(out)
	out = s.diskStats(out, dt)
	out = s.netDev(out, dt)
	out = s.loadAvg(out)
	out = s.processes(out, dt, pids)
	s.prevAt = now
	return out
}

func (s *Sampler) read(name string) []byte {
	f, err := os.Open(name)
	if err != nil {
		return nil
	}
	defer f.Close()
	s.buf = s.buf[:0]
	for {
		if len(s.buf) == cap(s.buf) {
			s.buf = append(s.buf, 0)[:len(s.buf)]
		}
		n, err := f.Read(s.buf[len(s.buf):cap(s.buf)])
		s.buf = s.buf[:len(s.buf)+n]
		if err != nil {
			return s.buf
		}
	}
}

var cpuFields = [...]string{"user", "system", "iowait", "steal", "idle", "irq", "softirq"}

func (s *Sampler) cpuStat(out []Point, dt float64) []Point {
	data := s.read(s.Proc + "/stat")
	if s.cpu == nil {
		s.cpu = map[string][8]uint64{}
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := sc.Bytes()
		f := bytes.Fields(line)
		if len(f) < 2 {
			continue
		}
		name := string(f[0])
		switch {
		case name == "ctxt":
			v, _ := strconv.ParseUint(string(f[1]), 10, 64)
			if dt > 0 && v >= s.ctxt {
				out = append(out, Point{"ctxt", float64(v-s.ctxt) / dt})
			}
			s.ctxt = v
		case len(name) >= 3 && name[:3] == "cpu" && len(f) >= 9:
			// user nice system idle iowait irq softirq steal
			var n [8]uint64
			for i := range 8 {
				n[i], _ = strconv.ParseUint(string(f[i+1]), 10, 64)
			}
			cur := [8]uint64{n[0] + n[1], n[2], n[4], n[7], n[3], n[5], n[6]}
			var total uint64
			for _, v := range cur[:7] {
				total += v
			}
			cur[7] = total
			prev, ok := s.cpu[name]
			s.cpu[name] = cur
			if !ok || cur[7] <= prev[7] {
				continue
			}
			span := float64(cur[7] - prev[7])
			for i := range 5 {
				out = append(out, Point{name + "." + cpuFields[i], 100 * float64(cur[i]-prev[i]) / span})
			}
		}
	}
	return out
}

func (s *Sampler) memInfo(out []Point) []Point {
	data := s.read(s.Proc + "/meminfo")
	var total, free, avail, buffers, cached, sreclaim, swapTotal, swapFree float64
	for len(data) > 0 {
		line := data
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line, data = data[:i], data[i+1:]
		} else {
			data = nil
		}
		k, v, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			continue
		}
		f := bytes.Fields(v)
		if len(f) == 0 {
			continue
		}
		n, _ := strconv.ParseFloat(string(f[0]), 64)
		n *= 1024
		switch string(k) {
		case "MemTotal":
			total = n
		case "MemFree":
			free = n
		case "MemAvailable":
			avail = n
		case "Buffers":
			buffers = n
		case "Cached":
			cached = n
		case "SReclaimable":
			sreclaim = n
		case "SwapTotal":
			swapTotal = n
		case "SwapFree":
			swapFree = n
		}
	}
	if total == 0 {
		return out
	}
	return append(out,
		Point{"mem.used", total - free - buffers - cached - sreclaim},
		Point{"mem.cached", cached + buffers + sreclaim},
		Point{"mem.available", avail},
		Point{"mem.swap_used", swapTotal - swapFree},
	)
}

func (s *Sampler) diskStats(out []Point, dt float64) []Point {
	data := s.read(s.Proc + "/diskstats")
	if s.disks == nil {
		s.disks = map[string][4]uint64{}
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		f := bytes.Fields(sc.Bytes())
		if len(f) < 14 {
			continue
		}
		dev := string(f[2])
		if !s.wholeDisk(dev) {
			continue
		}
		// reads, sectors read, writes, sectors written
		v, prev, ok := counters(s.disks, dev, f, [4]int{3, 5, 7, 9})
		if !ok || dt == 0 {
			continue
		}
		p := "disk." + dev + "."
		out = append(out,
			Point{p + "read_ops", rate(v[0], prev[0], dt)},
			Point{p + "read_bytes", 512 * rate(v[1], prev[1], dt)},
			Point{p + "write_ops", rate(v[2], prev[2], dt)},
			Point{p + "write_bytes", 512 * rate(v[3], prev[3], dt)},
		)
	}
	return out
}

// counters reads four counters from the given columns of f and swaps them
// for key's previous reading in m; ok is false on the first reading.
func counters(m map[string][4]uint64, key string, f [][]byte, cols [4]int) (v, prev [4]uint64, ok bool) {
	for i, col := range cols {
		v[i], _ = strconv.ParseUint(string(f[col]), 10, 64)
	}
	prev, ok = m[key]
	m[key] = v
	return v, prev, ok
}

// wholeDisk is true for devices listed in /sys/block that are not loop or
// RAM disks. The answer is kept per device name for a minute: a stat per
// device per sample was most of what reading disks cost.
func (s *Sampler) wholeDisk(dev string) bool {
	if len(dev) >= 4 && (dev[:4] == "loop" || dev[:3] == "ram") {
		return false
	}
	if s.whole == nil || time.Since(s.wholeAt) > time.Minute {
		s.whole, s.wholeAt = map[string]bool{}, time.Now()
	}
	w, ok := s.whole[dev]
	if !ok {
		_, err := os.Stat(s.Sys + "/block/" + dev)
		w = err == nil
		s.whole[dev] = w
	}
	return w
}

func (s *Sampler) netDev(out []Point, dt float64) []Point {
	data := s.read(s.Proc + "/net/dev")
	if s.nets == nil {
		s.nets = map[string][4]uint64{}
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		name, rest, ok := bytes.Cut(sc.Bytes(), []byte(":"))
		if !ok {
			continue
		}
		f := bytes.Fields(rest)
		if len(f) < 10 {
			continue
		}
		iface := string(bytes.TrimSpace(name))
		// rx bytes, rx packets, tx bytes, tx packets
		v, prev, ok := counters(s.nets, iface, f, [4]int{0, 1, 8, 9})
		if !ok || dt == 0 {
			continue
		}
		p := "net." + iface + "."
		out = append(out,
			Point{p + "rx_bytes", rate(v[0], prev[0], dt)},
			Point{p + "rx_packets", rate(v[1], prev[1], dt)},
			Point{p + "tx_bytes", rate(v[2], prev[2], dt)},
			Point{p + "tx_packets", rate(v[3], prev[3], dt)},
		)
	}
	return out
}

func (s *Sampler) loadAvg(out []Point) []Point {
	f := bytes.Fields(s.read(s.Proc + "/loadavg"))
	if len(f) < 3 {
		return out
	}
	for i, name := range []string{"load.1", "load.5", "load.15"} {
		v, err := strconv.ParseFloat(string(f[i]), 64)
		if err == nil {
			out = append(out, Point{name, v})
		}
	}
	return out
}

func (s *Sampler) processes(out []Point, dt float64, pids []int) []Point {
	seen := make(map[int]uint64, len(pids))
	for _, pid := range pids {
		stat := s.read(s.Proc + "/" + strconv.Itoa(pid) + "/stat")
		i := bytes.LastIndexByte(stat, ')')
		if i < 0 {
			continue
		}
		f := bytes.Fields(stat[i+1:])
		// After the command: state(0) ... utime(11) stime(12) ... rss(21)
		if len(f) < 22 {
			continue
		}
		ut, _ := strconv.ParseUint(string(f[11]), 10, 64)
		st, _ := strconv.ParseUint(string(f[12]), 10, 64)
		rss, _ := strconv.ParseFloat(string(f[21]), 64)
		p := "proc." + strconv.Itoa(pid) + "."
		out = append(out, Point{p + "rss", rss * s.pageSize})
		ticks := ut + st
		if prev, ok := s.procs[pid]; ok && dt > 0 && ticks >= prev {
			out = append(out, Point{p + "cpu", 100 * float64(ticks-prev) / s.clkTck / dt})
		}
		seen[pid] = ticks
	}
	s.procs = seen
	return out
}

func rate(cur, prev uint64, dt float64) float64 {
	if cur < prev {
		return 0
	}
	return float64(cur-prev) / dt
}
