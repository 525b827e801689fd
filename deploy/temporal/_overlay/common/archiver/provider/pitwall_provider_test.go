// Tests of provider.go's overlay, run inside Temporal's package by
// internal/temporaldev's TestOverlay (go test -overlay).

package provider

import (
	"errors"
	"strings"
	"testing"

	"go.temporal.io/server/common/config"
	"go.temporal.io/server/common/log"
	"go.temporal.io/server/common/metrics"
)

func newProvider() ArchiverProvider {
	fs := &config.FilestoreArchiver{FileMode: "0666", DirMode: "0766"}
	return NewArchiverProvider(
		&config.HistoryArchiverProvider{Filestore: fs, Gstorage: &config.GstorageArchiver{}, S3store: &config.S3Archiver{}},
		&config.VisibilityArchiverProvider{Filestore: fs, Gstorage: &config.GstorageArchiver{}, S3store: &config.S3Archiver{}},
		nil, log.NewNoopLogger(), metrics.NoopMetricsHandler)
}

// The file store archiver is still built, for history and visibility.
func TestFilestoreArchiversStay(t *testing.T) {
	p := newProvider()
	h, err := p.GetHistoryArchiver("file")
	if err != nil || h == nil {
		t.Fatalf("history archiver for file://: %v, %v", h, err)
	}
	v, err := p.GetVisibilityArchiver("file")
	if err != nil || v == nil {
		t.Fatalf("visibility archiver for file://: %v, %v", v, err)
	}
}

// gs:// and s3:// archival, configured or not, is refused with an error
// that is still ErrUnknownScheme and says why.
func TestCloudArchiversSayTheyAreNotBuilt(t *testing.T) {
	p := newProvider()
	for _, scheme := range []string{"gs", "s3"} {
		_, errH := p.GetHistoryArchiver(scheme)
		_, errV := p.GetVisibilityArchiver(scheme)
		for _, err := range []error{errH, errV} {
			if !errors.Is(err, ErrUnknownScheme) || !strings.Contains(err.Error(), "not built into Pitwall's Temporal server") {
				t.Errorf("%s: got %v, want ErrUnknownScheme saying it is not built in", scheme, err)
			}
		}
	}
	if _, err := p.GetHistoryArchiver("ftp"); !errors.Is(err, ErrUnknownScheme) || strings.Contains(err.Error(), "not built") {
		t.Errorf("an unknown scheme: got %v, want ErrUnknownScheme alone", err)
	}
}
