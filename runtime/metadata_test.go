package runtime

import (
	"maps"
	"strings"
	"testing"

	ow "github.com/vaec/vaec/runtime/internal/onnxwire"
)

func TestMetadata(t *testing.T) {
	cases := []struct {
		name    string
		doc     string
		keys    []string
		meta    map[string]string
		want    map[string]string
		wantErr string
	}{
		{name: "none", want: map[string]string{}},
		{name: "vaec keys", doc: "VAE decoder", keys: []string{"vaec.latent", "vaec.likelihood"},
			meta: map[string]string{"vaec.latent": "20", "vaec.likelihood": "bernoulli"},
			want: map[string]string{"vaec.latent": "20", "vaec.likelihood": "bernoulli"}},
		{name: "empty value", keys: []string{"k"}, meta: map[string]string{"k": ""}, want: map[string]string{"k": ""}},
		{name: "duplicate key", keys: []string{"k", "k"}, meta: map[string]string{"k": "v"}, wantErr: `key "k" occurs twice`},
		{name: "long key", keys: []string{strings.Repeat("k", maxNameLen+1)}, meta: map[string]string{}, wantErr: "longer than"},
		{name: "long value", keys: []string{"k"}, meta: map[string]string{"k": strings.Repeat("v", maxTextLen+1)}, wantErr: "longer than"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			g := ow.Dense(3, 2, "Relu")
			g.Doc, g.Keys, g.Metadata = c.doc, c.keys, c.meta
			m, err := Load(g.Bytes())
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := m.Metadata()
			if !maps.Equal(got, c.want) || got == nil {
				t.Errorf("Metadata() = %v, want %v", got, c.want)
			}
			if m.DocString() != c.doc {
				t.Errorf("DocString() = %q, want %q", m.DocString(), c.doc)
			}
			// The map is a copy: changing it changes nothing in the model.
			got["vaec.latent"] = "999"
			if m.Metadata()["vaec.latent"] != c.want["vaec.latent"] {
				t.Error("Metadata returned the model's own map")
			}
		})
	}
}

func TestMetadataTooMany(t *testing.T) {
	g := ow.Dense(3, 2, "Relu")
	g.Metadata = map[string]string{}
	for i := 0; i <= maxMetadata; i++ {
		k := strings.Repeat("x", i%7) + string(rune('a'+i%26)) + strings.Repeat("y", i/26)
		g.Keys = append(g.Keys, k)
		g.Metadata[k] = "v"
	}
	if _, err := Load(g.Bytes()); err == nil || !strings.Contains(err.Error(), "more than") {
		t.Fatalf("err = %v, want a refusal of more than %d entries", err, maxMetadata)
	}
}
