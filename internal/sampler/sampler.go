// Package sampler reads a host's figures from /proc: CPU (total and per
// CPU), memory, disks, network, load, context switches, and per-process CPU
// and RSS. Rates and percentages come from the difference between two
// consecutive samples, so the first sample holds only the gauges.
//
// A sample costs what the kernel takes to print the files and little more:
// the files stay open and are read again from their start with pread (as
// sysstat's sadc rewinds its files), into one buffer kept between samples,
// parsed in place, with the metric names made once per CPU, device,
// interface and process.
package sampler

import (
	"bytes"
	"errors"
	"os"
	"strconv"
	"syscall"
	"time"
)

// Point is one figure of one sample.
type Point struct {
	Metric string
	Value  float64
}

// Sampler keeps what the previous sample read. Close releases its files.
type Sampler struct {
	// Proc is the procfs mount, /proc unless a test says otherwise.
	Proc string
	// Sys is the sysfs mount, used to tell whole disks from partitions.
	Sys string

	prevAt time.Time
	files  map[string]*procFile
	cpu    map[string]*cpuState
	ctxt   uint64
	disks  map[string]*counterState
	nets   map[string]*counterState
	procs  map[int]*procState
	buf    []byte
	fields [][]byte
	out    []Point
	whole  map[string]bool // wholeDisk's answers since wholeAt
	// wholeAt is when whole was started.
	wholeAt  time.Time
	pageSize float64
	clkTck   float64
}

// procFile is a file kept open between samples; fd is -1 while closed.
type procFile struct {
	path string
	fd   int
}

// cpuState is a CPU line's last counters and its metric names.
type cpuState struct {
	prev  [8]uint64
	names [5]string
}

// counterState is a device's or an interface's last four counters and
// their metric names.
type counterState struct {
	prev  [4]uint64
	names [4]string
}

// procState is a listed process's open stat file, last CPU ticks and
// metric names.
type procState struct {
	file          procFile
	ticks         uint64
	counted, seen bool
	rss, cpu      string
}

// New returns a sampler of this host.
func New() *Sampler {
	return &Sampler{Proc: "/proc", Sys: "/sys", pageSize: float64(os.Getpagesize()), clkTck: 100}
}

// Sample reads every figure now, with per-process figures for pids. The
// points it returns are valid until the next Sample: their slice is
// reused.
func (s *Sampler) Sample(now time.Time, pids []int) []Point {
	out := s.out[:0]
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
	s.out = out
	return out
}

// Close closes the files the sampler keeps open. A closed sampler opens
// them again if it samples again.
func (s *Sampler) Close() {
	for _, f := range s.files {
		f.close()
	}
	for _, p := range s.procs {
		p.file.close()
	}
	s.procs = nil
}

// readProc reads a file under Proc, kept open between calls.
func (s *Sampler) readProc(name string) []byte {
	if s.files == nil {
		s.files = map[string]*procFile{}
	}
	f := s.files[name]
	if f == nil {
		f = &procFile{path: s.Proc + name, fd: -1}
		s.files[name] = f
	}
	return s.read(f)
}

// read returns f's whole content, read from its start into s.buf. A file
// that cannot be read is opened again once (it may have been replaced).
func (s *Sampler) read(f *procFile) []byte {
	for range 2 {
		if f.fd < 0 {
			fd, err := open(f.path)
			if err != nil {
				return nil
			}
			f.fd = fd
		}
		if b, err := s.pread(f.fd); err == nil {
			return b
		}
		f.close()
	}
	return nil
}

func open(path string) (int, error) {
	for {
		fd, err := syscall.Open(path, syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
		if !errors.Is(err, syscall.EINTR) {
			return fd, err
		}
	}
}

func (f *procFile) close() {
	if f.fd >= 0 {
		_ = syscall.Close(f.fd)
		f.fd = -1
	}
}

// pread reads fd from offset 0 into s.buf, growing it until one read
// leaves room: a procfs file gives all it has in one read that is large
// enough.
func (s *Sampler) pread(fd int) ([]byte, error) {
	if len(s.buf) < 16<<10 {
		s.buf = make([]byte, 16<<10)
	}
	for {
		n, err := syscall.Pread(fd, s.buf, 0)
		switch {
		case errors.Is(err, syscall.EINTR):
			continue
		case err != nil:
			return nil, err
		case n < len(s.buf):
			return s.buf[:n], nil
		}
		s.buf = make([]byte, 2*len(s.buf))
	}
}

// nextLine cuts data's first line (without its newline) from the rest.
func nextLine(data []byte) (line, rest []byte) {
	for i, c := range data {
		if c == '\n' {
			return data[:i], data[i+1:]
		}
	}
	return data, nil
}

// splitFields splits line at runs of spaces and tabs into s.fields,
// reused from call to call.
func (s *Sampler) splitFields(line []byte) [][]byte {
	f := s.fields[:0]
	start := -1
	for i, c := range line {
		if c == ' ' || c == '\t' {
			if start >= 0 {
				f = append(f, line[start:i])
				start = -1
			}
		} else if start < 0 {
			start = i
		}
	}
	if start >= 0 {
		f = append(f, line[start:])
	}
	s.fields = f
	return f
}

// parseUint reads a decimal number; anything else gives 0, as a failed
// strconv.ParseUint did.
func parseUint(b []byte) uint64 {
	if len(b) == 0 || len(b) > 19 {
		if len(b) > 19 {
			v, _ := strconv.ParseUint(string(b), 10, 64)
			return v
		}
		return 0
	}
	var v uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0
		}
		v = v*10 + uint64(c-'0')
	}
	return v
}

// parseDecimal reads a non-negative decimal number such as "0.28", to the
// same float64 as strconv.ParseFloat; ok is false for anything else.
func parseDecimal(b []byte) (float64, bool) {
	var mant uint64
	digits, frac := 0, -1
	for i, c := range b {
		switch {
		case c >= '0' && c <= '9':
			mant = mant*10 + uint64(c-'0')
			digits++
		case c == '.' && frac < 0:
			frac = i
		default:
			return 0, false
		}
	}
	if digits == 0 || digits > 15 {
		v, err := strconv.ParseFloat(string(b), 64)
		return v, err == nil
	}
	v := float64(mant)
	if frac >= 0 {
		// mant and the power of ten are exact: one division rounds once.
		v /= pow10[len(b)-frac-1]
	}
	return v, true
}

var pow10 = [...]float64{1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16}

var cpuFields = [...]string{"user", "system", "iowait", "steal", "idle", "irq", "softirq"}

func (s *Sampler) cpuStat(out []Point, dt float64) []Point {
	data := s.readProc("/stat")
	if s.cpu == nil {
		s.cpu = map[string]*cpuState{}
	}
	for len(data) > 0 {
		var line []byte
		line, data = nextLine(data)
		if !(len(line) >= 3 && string(line[:3]) == "cpu" || len(line) >= 4 && string(line[:4]) == "ctxt") {
			continue // intr and softirq are long and unused
		}
		f := s.splitFields(line)
		if len(f) < 2 {
			continue
		}
		switch name := f[0]; {
		case string(name) == "ctxt":
			v := parseUint(f[1])
			if dt > 0 && v >= s.ctxt {
				out = append(out, Point{"ctxt", float64(v-s.ctxt) / dt})
			}
			s.ctxt = v
		case len(name) >= 3 && string(name[:3]) == "cpu" && len(f) >= 9:
			// user nice system idle iowait irq softirq steal
			var n [8]uint64
			for i := range 8 {
				n[i] = parseUint(f[i+1])
			}
			cur := [8]uint64{n[0] + n[1], n[2], n[4], n[7], n[3], n[5], n[6]}
			var total uint64
			for _, v := range cur[:7] {
				total += v
			}
			cur[7] = total
			st, ok := s.cpu[string(name)]
			if !ok {
				st = &cpuState{}
				for i := range st.names {
					st.names[i] = string(name) + "." + cpuFields[i]
				}
				s.cpu[string(name)] = st
			}
			prev := st.prev
			st.prev = cur
			if !ok || cur[7] <= prev[7] {
				continue
			}
			span := float64(cur[7] - prev[7])
			for i := range 5 {
				out = append(out, Point{st.names[i], 100 * float64(cur[i]-prev[i]) / span})
			}
		}
	}
	return out
}

func (s *Sampler) memInfo(out []Point) []Point {
	data := s.readProc("/meminfo")
	var total, free, avail, buffers, cached, sreclaim, swapTotal, swapFree float64
	for len(data) > 0 {
		var line []byte
		line, data = nextLine(data)
		colon := bytes.IndexByte(line, ':')
		if colon < 0 {
			continue
		}
		var p *float64
		switch string(line[:colon]) {
		case "MemTotal":
			p = &total
		case "MemFree":
			p = &free
		case "MemAvailable":
			p = &avail
		case "Buffers":
			p = &buffers
		case "Cached":
			p = &cached
		case "SReclaimable":
			p = &sreclaim
		case "SwapTotal":
			p = &swapTotal
		case "SwapFree":
			p = &swapFree
		default:
			continue
		}
		f := s.splitFields(line[colon+1:])
		if len(f) == 0 {
			continue
		}
		*p = float64(parseUint(f[0])) * 1024
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

var diskNames = [4]string{"read_ops", "read_bytes", "write_ops", "write_bytes"}

func (s *Sampler) diskStats(out []Point, dt float64) []Point {
	data := s.readProc("/diskstats")
	if s.disks == nil {
		s.disks = map[string]*counterState{}
	}
	for len(data) > 0 {
		var line []byte
		line, data = nextLine(data)
		f := s.splitFields(line)
		if len(f) < 14 {
			continue
		}
		if !s.wholeDisk(f[2]) {
			continue
		}
		// reads, sectors read, writes, sectors written
		v, prev, st, ok := counters(s.disks, f[2], "disk.", diskNames, f, [4]int{3, 5, 7, 9})
		if !ok || dt == 0 {
			continue
		}
		out = append(out,
			Point{st.names[0], rate(v[0], prev[0], dt)},
			Point{st.names[1], 512 * rate(v[1], prev[1], dt)},
			Point{st.names[2], rate(v[2], prev[2], dt)},
			Point{st.names[3], 512 * rate(v[3], prev[3], dt)},
		)
	}
	return out
}

// counters reads four counters from the given columns of f and swaps them
// for key's previous reading; ok is false on key's first reading, which
// makes its metric names: prefix, key, a dot and names[i].
func counters(m map[string]*counterState, key []byte, prefix string, names [4]string, f [][]byte, cols [4]int) (v, prev [4]uint64, st *counterState, ok bool) {
	for i, col := range cols {
		v[i] = parseUint(f[col])
	}
	st, ok = m[string(key)]
	if !ok {
		st = &counterState{}
		for i := range names {
			st.names[i] = prefix + string(key) + "." + names[i]
		}
		m[string(key)] = st
	}
	prev, st.prev = st.prev, v
	return v, prev, st, ok
}

// wholeDisk is true for devices listed in /sys/block that are not loop or
// RAM disks. The answer is kept per device name for a minute: a stat per
// device per sample was most of what reading disks cost.
func (s *Sampler) wholeDisk(dev []byte) bool {
	if len(dev) >= 4 && (string(dev[:4]) == "loop" || string(dev[:3]) == "ram") {
		return false
	}
	if s.whole == nil || time.Since(s.wholeAt) > time.Minute {
		s.whole, s.wholeAt = map[string]bool{}, time.Now()
	}
	w, ok := s.whole[string(dev)]
	if !ok {
		_, err := os.Stat(s.Sys + "/block/" + string(dev))
		w = err == nil
		s.whole[string(dev)] = w
	}
	return w
}

var netNames = [4]string{"rx_bytes", "rx_packets", "tx_bytes", "tx_packets"}

func (s *Sampler) netDev(out []Point, dt float64) []Point {
	data := s.readProc("/net/dev")
	if s.nets == nil {
		s.nets = map[string]*counterState{}
	}
	for len(data) > 0 {
		var line []byte
		line, data = nextLine(data)
		colon := bytes.IndexByte(line, ':')
		if colon < 0 {
			continue
		}
		f := s.splitFields(line[colon+1:])
		if len(f) < 10 {
			continue
		}
		name := line[:colon]
		for len(name) > 0 && (name[0] == ' ' || name[0] == '\t') {
			name = name[1:]
		}
		for len(name) > 0 && (name[len(name)-1] == ' ' || name[len(name)-1] == '\t') {
			name = name[:len(name)-1]
		}
		// rx bytes, rx packets, tx bytes, tx packets
		v, prev, st, ok := counters(s.nets, name, "net.", netNames, f, [4]int{0, 1, 8, 9})
		if !ok || dt == 0 {
			continue
		}
		out = append(out,
			Point{st.names[0], rate(v[0], prev[0], dt)},
			Point{st.names[1], rate(v[1], prev[1], dt)},
			Point{st.names[2], rate(v[2], prev[2], dt)},
			Point{st.names[3], rate(v[3], prev[3], dt)},
		)
	}
	return out
}

var loadNames = [3]string{"load.1", "load.5", "load.15"}

func (s *Sampler) loadAvg(out []Point) []Point {
	line, _ := nextLine(s.readProc("/loadavg"))
	f := s.splitFields(line)
	if len(f) < 3 {
		return out
	}
	for i, name := range loadNames {
		if v, ok := parseDecimal(f[i]); ok {
			out = append(out, Point{name, v})
		}
	}
	return out
}

func (s *Sampler) processes(out []Point, dt float64, pids []int) []Point {
	if s.procs == nil {
		s.procs = map[int]*procState{}
	}
	for _, p := range s.procs {
		p.seen = false
	}
	for _, pid := range pids {
		p := s.procs[pid]
		if p == nil {
			n := strconv.Itoa(pid)
			p = &procState{file: procFile{path: s.Proc + "/" + n + "/stat", fd: -1},
				rss: "proc." + n + ".rss", cpu: "proc." + n + ".cpu"}
			s.procs[pid] = p
		}
		if p.seen {
			continue // listed twice
		}
		p.seen = true
		stat := s.read(&p.file)
		i := -1
		for j := len(stat) - 1; j >= 0; j-- {
			if stat[j] == ')' {
				i = j
				break
			}
		}
		if i < 0 {
			p.counted = false
			continue
		}
		line, _ := nextLine(stat[i+1:])
		f := s.splitFields(line)
		// After the command: state(0) ... utime(11) stime(12) ... rss(21)
		if len(f) < 22 {
			p.counted = false
			continue
		}
		ticks := parseUint(f[11]) + parseUint(f[12])
		out = append(out, Point{p.rss, float64(parseUint(f[21])) * s.pageSize})
		if p.counted && dt > 0 && ticks >= p.ticks {
			out = append(out, Point{p.cpu, 100 * float64(ticks-p.ticks) / s.clkTck / dt})
		}
		p.ticks, p.counted = ticks, true
	}
	// A process no longer listed is forgotten, and its file closed.
	for pid, p := range s.procs {
		if !p.seen {
			p.file.close()
			delete(s.procs, pid)
		}
	}
	return out
}

func rate(cur, prev uint64, dt float64) float64 {
	if cur < prev {
		return 0
	}
	return float64(cur-prev) / dt
}
