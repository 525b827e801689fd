package sealed

import (
	"bytes"
	"encoding/base64"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/converter"
)

func TestSealedPayloadsOpenOnlyWithTheirKey(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "key")
	require.NoError(t, os.WriteFile(keyFile, []byte(NewKey()), 0o600))
	c, err := Load(keyFile)
	require.NoError(t, err)

	dc := c.DataConverter()
	secret := map[string]string{"script": "#!/bin/sh\ncurl https://internal.example/secret-token-123\n"}
	p, err := dc.ToPayload(secret)
	require.NoError(t, err)
	require.Equal(t, Encoding, string(p.Metadata[converter.MetadataEncoding]))
	require.False(t, bytes.Contains(p.Data, []byte("secret-token-123")), "the payload is ciphertext")
	var back map[string]string
	require.NoError(t, dc.FromPayload(p, &back))
	require.Equal(t, secret, back)

	// A payload written before sealing was turned on is read as it is.
	plain, err := converter.GetDefaultDataConverter().ToPayload("old history")
	require.NoError(t, err)
	var old string
	require.NoError(t, dc.FromPayload(plain, &old))
	require.Equal(t, "old history", old)

	// Another key, or a payload tampered with, does not open.
	other, err := New(bytes.Repeat([]byte{7}, KeySize))
	require.NoError(t, err)
	require.ErrorIs(t, other.DataConverter().FromPayload(p, &back), ErrKey)
	p.Data[len(p.Data)-1] ^= 1
	require.ErrorIs(t, dc.FromPayload(p, &back), ErrKey)

	_, err = New([]byte("short"))
	require.Error(t, err)
	require.NoError(t, os.WriteFile(keyFile, []byte(base64.StdEncoding.EncodeToString([]byte("short"))), 0o600))
	_, err = Load(keyFile)
	require.ErrorContains(t, err, "want 32")
}

// A sealed secret opens only with its key and for its purpose; the same
// secret sealed twice looks different.
func TestBox(t *testing.T) {
	t.Parallel()
	key := make([]byte, KeySize)
	key[0] = 1
	b, err := NewBox(key)
	require.NoError(t, err)
	s1 := b.Seal([]byte("ghp_secret"), "github:alpha:token")
	s2 := b.Seal([]byte("ghp_secret"), "github:alpha:token")
	require.NotEqual(t, s1, s2)
	require.NotContains(t, string(s1), "ghp_secret")
	plain, err := b.Open(s1, "github:alpha:token")
	require.NoError(t, err)
	require.Equal(t, "ghp_secret", string(plain))
	_, err = b.Open(s1, "github:beta:token")
	require.ErrorIs(t, err, ErrSecret, "another team's row")
	key[0] = 2
	other, err := NewBox(key)
	require.NoError(t, err)
	_, err = other.Open(s1, "github:alpha:token")
	require.ErrorIs(t, err, ErrSecret, "another key")
	_, err = b.Open(s1[:5], "github:alpha:token")
	require.ErrorIs(t, err, ErrSecret)
}
