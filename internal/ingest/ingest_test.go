package ingest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// benchBatch is a batch as the ingest benchmark sends it: 10 series of
// 1,000 points, a second apart.
func benchBatch() Samples {
	s := Samples{Header: Header{TestID: 1, Host: "h", Batch: "b"}}
	for k := range 10 {
		ser := Series{Metric: fmt.Sprintf("bench.m%02d", k)}
		for i := range 1000 {
			ser.TS = append(ser.TS, 1763726400000+int64(i)*1000)
			ser.Values = append(ser.Values, float64((i*7+k)%100)+0.25)
		}
		s.Series = append(s.Series, ser)
	}
	return s
}

// decodeCases are batches DecodeSamples must read as json.Unmarshal does,
// or refuse as it does.
var decodeCases = []string{
	`{"test_id":7,"host":"h1","batch":"b","series":[{"metric":"cpu","ts":[1,2,-3],"values":[0.5,1e3,-2E-2]}]}`,
	" \n{ \"TEST_ID\" : 7 , \"Host\":\"h\\u00e9\\n\" ,\"series\" : [ { \"metric\" : \"m\" , \"ts\" : [ 1 , 2 ] , \"values\" : [ 1 , 2 ] } , null ] } \t",
	`{"test_id":null,"host":null,"series":null}`,
	`{"series":[{"ts":null,"values":[]}],"extra":{"a":[1,{"b":null},"c",true,false,-0.5e+7]},"more":[]}`,
	`{"series":[{"ts":[1,null,3]}]}`,
	`{"series":[{"metric":"a","ts":[1,2,3]},{"metric":"b"}],"series":[{"ts":[4]}]}`,
	`{"series":[{"ts":[1,2,3]}],"series":[{"ts":[4]}],"series":[{"ts":[5,null,null]}]}`,
	`{"host":"\ud800x","batch":"bad utf-8 \xff"}`,
	`{"ſeries":[],"tEST_iD":-9223372036854775808}`,
	`null`,
	`{}`,
	`{"test_id":9223372036854775808}`,
	`{"test_id":1.0}`,
	`{"test_id":1e2}`,
	`{"test_id":"1"}`,
	`{"series":[{"values":[1e400]}]}`,
	`{"series":[{"ts":[01]}]}`,
	`{"series":[{"ts":[1,]}]}`,
	`{"series":[{"ts":[1 2]}]}`,
	`{"series":[{"ts":[.5]}]}`,
	`{"series":[{"values":[NaN]}]}`,
	`{"series":{}}`,
	`{"series":[[]]}`,
	`{"host":5}`,
	`{"host":"a` + "\x01" + `"}`,
	`{"a":tru}`,
	`{"a":[1,]}`,
	`{"a":1,}`,
	`{"a" 1}`,
	`{} {}`,
	`[]`,
	`{"series":[{"ts":[1]}]`,
	``,
}

func TestDecodeSamplesAsEncodingJSON(t *testing.T) {
	for _, in := range decodeCases {
		sameAsEncodingJSON(t, []byte(in))
	}
	body, err := json.Marshal(benchBatch())
	require.NoError(t, err)
	sameAsEncodingJSON(t, body)
}

func FuzzDecodeSamples(f *testing.F) {
	for _, in := range decodeCases {
		f.Add([]byte(in))
	}
	f.Fuzz(sameAsEncodingJSON)
}

func sameAsEncodingJSON(t *testing.T, in []byte) {
	var want, got Samples
	wantErr := json.Unmarshal(in, &want)
	gotErr := DecodeSamples(in, &got)
	if wantErr != nil {
		require.Error(t, gotErr, "%s: encoding/json says %v", in, wantErr)
		return
	}
	require.NoError(t, gotErr, "%s", in)
	require.Equal(t, want, got, "%s", in)
}

// BenchmarkSamplesDecode decodes a batch as the ingest endpoint does;
// encoding/json is the reference.
func BenchmarkSamplesDecode(b *testing.B) {
	body, err := json.Marshal(benchBatch())
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		name   string
		decode func(*Samples) error
	}{
		{"DecodeSamples", func(s *Samples) error { return DecodeSamples(body, s) }},
		{"encoding-json", func(s *Samples) error { return json.NewDecoder(bytes.NewReader(body)).Decode(s) }},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				var s Samples
				if err := c.decode(&s); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*10000)/b.Elapsed().Seconds(), "samples/s")
		})
	}
}

// The client notes when the server accepted a batch of samples (which
// the agent's heartbeat reads), and not for logs or refused batches.
func TestClientNotesAcceptedSamples(t *testing.T) {
	t.Parallel()
	refuse := false
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if refuse {
			http.Error(w, "no", http.StatusForbidden)
			return
		}
		_, _ = w.Write([]byte(`{"written":1}`))
	}))
	defer srv.Close()
	c := &Client{Server: srv.URL}
	ctx := context.Background()
	h := Header{TestID: 1, Host: "h", Batch: "b"}
	require.NoError(t, c.Send(ctx, LogsPath, Logs{Header: h}))
	require.True(t, c.SamplesAccepted().IsZero(), "logs are not samples")
	refuse = true
	require.Error(t, c.Send(ctx, SamplesPath, Samples{Header: h}))
	require.True(t, c.SamplesAccepted().IsZero(), "a refused batch is no sign of life")
	refuse = false
	before := time.Now()
	require.NoError(t, c.Send(ctx, SamplesPath, Samples{Header: h}))
	require.False(t, c.SamplesAccepted().Before(before))
}
