package devflags

import (
	"strings"
	"testing"

	enumspb "go.temporal.io/api/enums/v1"
)

// What internal/temporaldev passes: ports, a dynamic config value that the
// server reads as an int, search attributes by their long type names.
func TestParseWhatPitwallPasses(t *testing.T) {
	o, err := Parse([]string{"--ip", "127.0.0.1", "--port", "17233", "--namespace", "default", "--log-level", "warn",
		"--ui-port", "18233", "--pprof-port", "16061", "--db-filename", "/tmp/x.sqlite",
		"--dynamic-config-value", "history.transferProcessorMaxPollRPS=1000",
		"--dynamic-config-value", "system.forceSearchAttributesCacheRefreshOnRead=true",
		"--dynamic-config-value", "some.ratio=0.5",
		"--dynamic-config-value", `some.name="x"`,
		"--dynamic-config-value", "some.word=fast",
		"--search-attribute", "PitwallTestID=INDEXED_VALUE_TYPE_INT",
		"--search-attribute", "PitwallBranch=Keyword"})
	if err != nil {
		t.Fatal(err)
	}
	if o.IP != "127.0.0.1" || o.Port != 17233 || o.UIPort != 18233 || o.PProfPort != 16061 || o.DBFile != "/tmp/x.sqlite" || o.Namespace != "default" || o.LogLevel != "warn" {
		t.Fatalf("options %+v", o)
	}
	want := map[string]any{"history.transferProcessorMaxPollRPS": 1000, "system.forceSearchAttributesCacheRefreshOnRead": true,
		"some.ratio": 0.5, "some.name": "x", "some.word": "fast"}
	for k, v := range want {
		if o.Dynamic[k] != v {
			t.Errorf("dynamic %s = %#v (%T), want %#v (%T)", k, o.Dynamic[k], o.Dynamic[k], v, v)
		}
	}
	if o.Search["PitwallTestID"] != enumspb.INDEXED_VALUE_TYPE_INT || o.Search["PitwallBranch"] != enumspb.INDEXED_VALUE_TYPE_KEYWORD {
		t.Errorf("search attributes %v", o.Search)
	}
}

func TestParseDefaults(t *testing.T) {
	o, err := Parse(nil)
	if err != nil {
		t.Fatal(err)
	}
	if o.IP != "127.0.0.1" || o.Port != 7233 || o.UIPort != 0 || o.PProfPort != 0 || o.DBFile != "" || o.Namespace != "default" {
		t.Fatalf("defaults %+v", o)
	}
}

// Bad input is refused with an error that names it.
func TestParseRefuses(t *testing.T) {
	for _, c := range []struct {
		args []string
		says string
	}{
		{[]string{"--port", "0"}, "TCP ports"},
		{[]string{"--ui-port", "70000"}, "TCP ports"},
		{[]string{"--pprof-port", "-1"}, "TCP ports"},
		{[]string{"--ip", "localhost"}, `"localhost" is not an IP address`},
		{[]string{"--dynamic-config-value", "novalue"}, `"novalue" is not KEY=VALUE`},
		{[]string{"--dynamic-config-value", "=1"}, `"=1" is not KEY=VALUE`},
		{[]string{"--search-attribute", "X=Number"}, `search attribute X: "Number" is not a type`},
		{[]string{"--search-attribute", "X=Unspecified"}, `search attribute X: "Unspecified" is not a type`},
		{[]string{"--search-attribute", "X"}, `"X" is not NAME=TYPE`},
		{[]string{"start-dev"}, "unexpected arguments"},
		{[]string{"--headless"}, "flag provided but not defined: -headless"},
	} {
		_, err := Parse(c.args)
		if err == nil || !strings.Contains(err.Error(), c.says) {
			t.Errorf("Parse(%q): %v, want an error saying %q", c.args, err, c.says)
		}
	}
}
