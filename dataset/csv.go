package dataset

func readCSV(s *stream, q *request) (*table, error) {
	return nil, s.errAt(0, nil, "csv: not implemented yet")
}
