package temporaldev

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestOverlay runs the tests of the Temporal packages that
// deploy/temporal/_overlay replaces a file of, with the overlay in place:
// the SQLite plugin builds with the replaced driver.go and the overlay's
// tests of its statement cache (pitwall_driver_test.go) pass beside
// Temporal's; the archiver provider builds without the cloud archivers
// and its overlay tests (pitwall_provider_test.go) pass. The build flags
// are the server build's, so its compiled dependencies are reused.
func TestOverlay(t *testing.T) {
	t.Parallel()
	root, err := ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	src := filepath.Join(root, "deploy", "temporal")
	ctx := context.Background()
	// The folder the suite's server build used: the copy of the module and
	// its compiled packages are shared.
	dir, err := BinDir()
	if err != nil {
		t.Fatal(err)
	}
	work, file, err := Overlay(ctx, src, dir, true)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"sqlplugin/sqlite/driver.go", "sqlplugin/sqlite/pitwall_driver_test.go",
		"archiver/provider/provider.go", "archiver/provider/pitwall_provider_test.go"} {
		if !strings.Contains(string(b), name) {
			t.Fatalf("overlay %s names no %s", b, name)
		}
	}
	cmd := exec.CommandContext(ctx, "go", "test", "-toolexec", "env GOGC=off", "-count=1", "-overlay", file, "-v",
		serverModule+"/common/persistence/sql/sqlplugin/sqlite", serverModule+"/common/archiver/provider")
	cmd.Dir, cmd.Env = src, append(os.Environ(), work)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go test with the overlay: %v\n%s", err, out)
	}
	for _, test := range []string{"TestStatementReusedAcrossCalls", "TestFailedStatementStillUsable", "TestSameTextWhileRowsOpen", "TestCacheBounded",
		"TestFilestoreArchiversStay", "TestCloudArchiversSayTheyAreNotBuilt"} {
		if !strings.Contains(string(out), "--- PASS: "+test) {
			t.Errorf("%s did not pass:\n%s", test, out)
		}
	}
}
