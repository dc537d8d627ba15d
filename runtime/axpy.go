package runtime

// axpy4 and axpy1 are the inner loops of sgemm.
func axpy4(c0, c1, c2, c3, x []float32, a0, a1, a2, a3 float32) {
	axpy4Go(c0, c1, c2, c3, x, a0, a1, a2, a3)
}

func axpy1(c, x []float32, a float32) { axpy1Go(c, x, a) }
