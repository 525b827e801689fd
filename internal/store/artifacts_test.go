package store

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// putArtifact stores content as path of test id.
func putArtifact(t testing.TB, s *Store, id int64, path string, content []byte) {
	t.Helper()
	sum := sha256.Sum256(content)
	require.NoError(t, s.ArtifactPut(context.Background(), id, Artifact{Path: path, Size: int64(len(content)),
		SHA256: hex.EncodeToString(sum[:]), ContentType: "application/octet-stream"}, content, nil, nil))
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

// Artifacts come back as they went in, whatever their size against the
// chunks.
func TestArtifactsRoundTrip(t *testing.T) {
	t.Parallel()
	s, id := setup(t)
	ctx := context.Background()
	for _, n := range []int{0, 5, 1 << 20, 2<<20 + 17} {
		content := randomBytes(n)
		path := fmt.Sprintf("f%d.bin", n)
		putArtifact(t, s, id, path, content)
		var got bytes.Buffer
		require.NoError(t, s.ArtifactOpen(ctx, id, path, func(a Artifact) io.Writer {
			require.Equal(t, int64(n), a.Size)
			return &got
		}))
		require.True(t, bytes.Equal(content, got.Bytes()), "%d bytes", n)
	}
	// Stored artifacts are never replaced: the same content again is a
	// retry, other content is refused, and the chunks stay as they were.
	big := randomBytes(2<<20 + 17)
	putArtifact(t, s, id, "again.bin", big)
	putArtifact(t, s, id, "again.bin", big)
	sum := sha256.Sum256([]byte("other"))
	require.ErrorIs(t, s.ArtifactPut(ctx, id, Artifact{Path: "again.bin", Size: 5, SHA256: hex.EncodeToString(sum[:])},
		[]byte("other"), nil, nil), ErrArtifactDiffers)
	var chunks int
	require.NoError(t, testPool.QueryRow(ctx, `SELECT count(*) FROM artifact_chunks WHERE test_id = $1 AND path = 'again.bin'`,
		id).Scan(&chunks))
	require.Equal(t, 3, chunks)
	var got bytes.Buffer
	require.NoError(t, s.ArtifactOpen(ctx, id, "again.bin", func(Artifact) io.Writer { return &got }))
	require.True(t, bytes.Equal(big, got.Bytes()))
	require.ErrorIs(t, s.ArtifactOpen(ctx, id, "nothing.bin", func(Artifact) io.Writer { return io.Discard }), ErrNotFound)
}

// download reads an artifact to nowhere and returns the bytes allocated
// meanwhile and the most heap in use seen while it ran.
func download(t testing.TB, s *Store, id int64, path string) (alloc, peak uint64) {
	t.Helper()
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	var top atomic.Uint64
	done := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		var m runtime.MemStats
		for {
			runtime.ReadMemStats(&m)
			if m.HeapAlloc > top.Load() {
				top.Store(m.HeapAlloc)
			}
			select {
			case <-done:
				return
			case <-time.After(2 * time.Millisecond):
			}
		}
	}()
	require.NoError(t, s.ArtifactOpen(context.Background(), id, path, func(Artifact) io.Writer { return io.Discard }))
	close(done)
	<-sampled
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc, top.Load() - before.HeapAlloc
}

// A download's memory does not grow with the file: 64 MiB cost what 1 MiB
// does, not 64 MiB more.
func TestArtifactDownloadMemoryIsFlat(t *testing.T) {
	s, id := setup(t)
	putArtifact(t, s, id, "small.bin", randomBytes(1<<20))
	putArtifact(t, s, id, "big.bin", randomBytes(64<<20))
	download(t, s, id, "small.bin") // warm the pool's connections and buffers
	smallAlloc, smallPeak := download(t, s, id, "small.bin")
	bigAlloc, bigPeak := download(t, s, id, "big.bin")
	t.Logf("1 MiB artifact: %.1f MiB allocated, heap grew at most %.1f MiB", mib(smallAlloc), mib(smallPeak))
	t.Logf("64 MiB artifact: %.1f MiB allocated, heap grew at most %.1f MiB", mib(bigAlloc), mib(bigPeak))
	require.Less(t, bigAlloc, uint64(8<<20), "a 64 MiB download allocates less than 8 MiB in all")
	require.Less(t, bigPeak, uint64(8<<20), "a 64 MiB download holds less than 8 MiB at once")
}

func mib(n uint64) float64 { return float64(n) / (1 << 20) }

// BenchmarkArtifactDownload reads artifacts of several sizes: B/op stays
// flat as they grow.
func BenchmarkArtifactDownload(b *testing.B) {
	s, id := setup(b)
	for _, n := range []int{1 << 20, 16 << 20, 64 << 20} {
		path := fmt.Sprintf("bench-%d.bin", n)
		putArtifact(b, s, id, path, randomBytes(n))
		b.Run(fmt.Sprintf("%dMiB", n>>20), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(n))
			for b.Loop() {
				require.NoError(b, s.ArtifactOpen(context.Background(), id, path, func(Artifact) io.Writer { return io.Discard }))
			}
		})
	}
}
