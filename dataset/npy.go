package dataset

func readNPY(s *stream, q *request) (*table, error) {
	return nil, s.errAt(0, nil, "npy: not implemented yet")
}
