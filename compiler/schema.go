package compiler

import "encoding/json"

// Schema returns a JSON Schema (draft 2020-12) of the spec, for editors
// (for example with the YAML language server's `# yaml-language-server:
// $schema=` comment). It is generated from the same key tables the checker
// uses. Cross-key rules (validation_split versus data.validation, keys that
// apply to one optimizer only, ...) are left to the compiler.
func Schema() []byte {
	defs := map[string]any{}
	for _, s := range allSections()[1:] {
		defs[s.def] = sectionSchema(s)
	}
	doc := sectionSchema(topSection)
	doc["$schema"] = "https://json-schema.org/draft/2020-12/schema"
	doc["$id"] = "https://github.com/vaec/vaec/spec-v1.schema.json"
	doc["title"] = "vaec spec"
	doc["$defs"] = defs
	b, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		// The schema is built from constant tables of strings, numbers and
		// maps; if it cannot be marshalled the tables themselves are broken.
		panic("compiler: schema tables do not marshal: " + err.Error())
	}
	return append(b, '\n')
}

func sectionSchema(s *section) map[string]any {
	props := map[string]any{}
	for _, f := range s.fields {
		p := map[string]any{"description": f.doc}
		for k, v := range f.schema {
			p[k] = v
		}
		props[f.name] = p
	}
	out := map[string]any{
		"type":                 "object",
		"description":          s.doc,
		"properties":           props,
		"additionalProperties": false,
	}
	if len(s.required) > 0 {
		out["required"] = s.required
	}
	return out
}
