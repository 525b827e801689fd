// Package sealed encrypts the payloads Pitwall's processes put in Temporal
// (workflow inputs and results, activity inputs and results, signals,
// failure messages) with AES-256-GCM, so that workflow histories, the
// Temporal web UI and Temporal's database hold ciphertext instead of
// teams' scripts, parameter values and KPIs. It is a Temporal payload
// codec (converter.PayloadCodec); every Pitwall process that talks to
// Temporal shares the key.
package sealed

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
)

// Encoding marks a sealed payload; payloads without it (histories written
// before sealing was turned on) are read as they are.
const Encoding = "binary/pitwall-sealed"

// KeySize is the key's length: AES-256.
const KeySize = 32

// Codec seals and opens payloads with one key.
type Codec struct {
	aead  cipher.AEAD
	keyID []byte
}

var _ converter.PayloadCodec = (*Codec)(nil)

// New returns a codec for a 32-byte key.
func New(key []byte) (*Codec, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("payload key is %d bytes, want %d", len(key), KeySize)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(key)
	return &Codec{aead: aead, keyID: []byte(hex.EncodeToString(sum[:4]))}, nil
}

// Load reads a key file: 32 random bytes written as base64 (NewKey).
func Load(path string) (*Codec, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("payload key: %w", err)
	}
	key, err := base64.StdEncoding.DecodeString(string(bytes.TrimSpace(b)))
	if err != nil {
		return nil, fmt.Errorf("payload key %s: not base64: %w", path, err)
	}
	c, err := New(key)
	if err != nil {
		return nil, fmt.Errorf("payload key %s: %w", path, err)
	}
	return c, nil
}

// NewKey returns a fresh key as a key file holds it.
func NewKey() string {
	key := make([]byte, KeySize)
	_, _ = rand.Read(key)
	return base64.StdEncoding.EncodeToString(key) + "\n"
}

// Encode seals each payload.
func (c *Codec) Encode(ps []*commonpb.Payload) ([]*commonpb.Payload, error) {
	out := make([]*commonpb.Payload, len(ps))
	for i, p := range ps {
		plain, err := p.Marshal()
		if err != nil {
			return nil, err
		}
		nonce := make([]byte, c.aead.NonceSize(), c.aead.NonceSize()+len(plain)+c.aead.Overhead())
		_, _ = rand.Read(nonce)
		out[i] = &commonpb.Payload{
			Metadata: map[string][]byte{converter.MetadataEncoding: []byte(Encoding), "key-id": c.keyID},
			Data:     c.aead.Seal(nonce, nonce, plain, c.keyID),
		}
	}
	return out, nil
}

// ErrKey is a sealed payload that this key does not open.
var ErrKey = errors.New("sealed payload: wrong key (every Pitwall process needs the same --temporal-payload-key-file)")

// Decode opens each sealed payload and passes the others through.
func (c *Codec) Decode(ps []*commonpb.Payload) ([]*commonpb.Payload, error) {
	out := make([]*commonpb.Payload, len(ps))
	for i, p := range ps {
		if string(p.GetMetadata()[converter.MetadataEncoding]) != Encoding {
			out[i] = p
			continue
		}
		n := c.aead.NonceSize()
		if len(p.Data) < n || !bytes.Equal(p.Metadata["key-id"], c.keyID) {
			return nil, ErrKey
		}
		plain, err := c.aead.Open(nil, p.Data[:n], p.Data[n:], c.keyID)
		if err != nil {
			return nil, ErrKey
		}
		out[i] = &commonpb.Payload{}
		if err := out[i].Unmarshal(plain); err != nil {
			return nil, fmt.Errorf("sealed payload: %w", err)
		}
	}
	return out, nil
}

// DataConverter is the default data converter with payloads sealed.
func (c *Codec) DataConverter() converter.DataConverter {
	return converter.NewCodecDataConverter(converter.GetDefaultDataConverter(), c)
}

// FailureConverter also seals failures' messages and stack traces (a
// script's failure reason can quote its output).
func (c *Codec) FailureConverter() converter.FailureConverter {
	return temporal.NewDefaultFailureConverter(temporal.DefaultFailureConverterOptions{
		DataConverter: c.DataConverter(), EncodeCommonAttributes: true,
	})
}

// Box seals small secrets Pitwall keeps at rest in its database (a team's
// GitHub token and webhook secret) with AES-256-GCM. Each sealed value is
// bound to what it is for (its additional data, e.g. "github:team:token"),
// so one row's ciphertext cannot be passed off as another's.
type Box struct {
	aead cipher.AEAD
}

// LoadBox reads a key file as Load does (32 random bytes as base64).
func LoadBox(path string) (*Box, error) {
	c, err := Load(path)
	if err != nil {
		return nil, fmt.Errorf("secrets key: %w", err)
	}
	return &Box{aead: c.aead}, nil
}

// NewBox returns a box for a 32-byte key.
func NewBox(key []byte) (*Box, error) {
	c, err := New(key)
	if err != nil {
		return nil, err
	}
	return &Box{aead: c.aead}, nil
}

// Seal encrypts plain for the purpose aad: a random nonce, then the
// ciphertext and its tag.
func (b *Box) Seal(plain []byte, aad string) []byte {
	nonce := make([]byte, b.aead.NonceSize(), b.aead.NonceSize()+len(plain)+b.aead.Overhead())
	_, _ = rand.Read(nonce)
	return b.aead.Seal(nonce, nonce, plain, []byte(aad))
}

// ErrSecret is a sealed secret that does not open: another key, another
// purpose, or a damaged value.
var ErrSecret = errors.New("sealed secret does not open (another --secrets-key-file, or damaged)")

// Open decrypts what Seal gave for the same aad.
func (b *Box) Open(sealed []byte, aad string) ([]byte, error) {
	n := b.aead.NonceSize()
	if len(sealed) < n+b.aead.Overhead() {
		return nil, ErrSecret
	}
	plain, err := b.aead.Open(nil, sealed[:n], sealed[n:], []byte(aad))
	if err != nil {
		return nil, ErrSecret
	}
	return plain, nil
}
