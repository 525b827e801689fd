// Package hostinfo reads the facts that describe an agent's host.
package hostinfo

import (
	"bufio"
	"os"
	"runtime"
	"strconv"
	"strings"

	"github.com/pitwall/pitwall/internal/wire"
)

// Read gathers CPU model, cores, memory, kernel and OS from /proc and /etc.
func Read() wire.Facts {
	f := wire.Facts{Cores: runtime.NumCPU(), CPUModel: "unknown", Kernel: "unknown", OS: runtime.GOOS}
	if v := field("/proc/cpuinfo", "model name", ':'); v != "" {
		f.CPUModel = v
	}
	// siblings / cpu cores is hardware threads per physical core.
	siblings, _ := strconv.Atoi(field("/proc/cpuinfo", "siblings", ':'))
	cores, _ := strconv.Atoi(field("/proc/cpuinfo", "cpu cores", ':'))
	f.ThreadsPerCore = 1
	if siblings > 0 && cores > 0 && siblings >= cores {
		f.ThreadsPerCore = siblings / cores
	}
	f.Governor = "none"
	if b, err := os.ReadFile("/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor"); err == nil {
		f.Governor = strings.TrimSpace(string(b))
	}
	f.Turbo = turbo("/sys/devices/system/cpu")
	if v := field("/proc/meminfo", "MemTotal", ':'); v != "" {
		kb, _ := strconv.ParseInt(strings.TrimSuffix(v, " kB"), 10, 64)
		f.MemoryBytes = kb * 1024
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		f.Kernel = strings.TrimSpace(string(b))
	}
	if v := field("/etc/os-release", "PRETTY_NAME", '='); v != "" {
		f.OS = strings.Trim(v, `"`)
	}
	return f
}

// field returns the value of the first line "key<sep> value" of a file.
func field(path, key string, sep byte) string {
	file, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer file.Close()
	sc := bufio.NewScanner(file)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), string(sep))
		if ok && strings.TrimSpace(k) == key {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// turbo says whether turbo/boost is on under the sysfs cpu directory:
// intel_pstate/no_turbo (1: off) or cpufreq/boost (1: on); "" when
// neither is there (a VM, or a driver without the knob).
func turbo(dir string) string {
	if b, err := os.ReadFile(dir + "/intel_pstate/no_turbo"); err == nil {
		if strings.TrimSpace(string(b)) == "1" {
			return "off"
		}
		return "on"
	}
	if b, err := os.ReadFile(dir + "/cpufreq/boost"); err == nil {
		if strings.TrimSpace(string(b)) == "1" {
			return "on"
		}
		return "off"
	}
	return ""
}
