package graph

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/vaec/vaec/checkpoint"
	"github.com/vaec/vaec/dataset"
	"github.com/vaec/vaec/ir"
)

// ErrInterrupted is returned (wrapped) by Train when its context is
// cancelled; the checkpoint then holds the last completed epoch.
var ErrInterrupted = errors.New("training interrupted")

// TrainOptions are the inputs of Train besides the model.
type TrainOptions struct {
	Train *dataset.Set // required
	Val   *dataset.Set // optional; without it "best" means best training ELBO

	// Store receives every completed epoch and, with Resume, gives the
	// state to continue from. For a build directory it is a *builddir.Dir,
	// which commits checkpoint, best and metrics line as one state.
	Store Store

	// Checkpoint, Best and Metrics, when Store is nil, name plain files for
	// library use and tests (each optional, "" = not written): the
	// checkpoint after every epoch, best whenever the score improves, one
	// JSON line per epoch. They are written one after another, not as one
	// commit; a build directory uses Store.
	Checkpoint, Best, Metrics string

	// Resume continues from the store's last commit, which must come from
	// the same spec.
	Resume bool
	// Epochs is the total number of epochs to reach (0 = m.Train.Epochs).
	Epochs int
	// Progress, when set, is called after every batch and every epoch.
	Progress func(Progress)
}

// Store keeps the trainer's state between epochs and runs. The trainer
// writes no files itself: it hands each completed epoch to the store.
type Store interface {
	// Last returns the last committed checkpoint, or nil when there is none.
	Last() (*checkpoint.Checkpoint, error)
	// CommitEpoch makes one completed epoch durable: c as the checkpoint,
	// also as best when improved, and metricsLine (one JSON object, no
	// newline) as the epoch's line of metrics, replacing any lines of
	// epochs at or after c.State.Epoch.
	CommitEpoch(c *checkpoint.Checkpoint, improved bool, metricsLine []byte) error
}

// Progress reports training as it goes.
type Progress struct {
	Epoch, Epochs  int
	Batch, Batches int     // batches done in this epoch, of Batches
	Samples        int     // training examples done in this epoch
	SamplesPerSec  float64 // this epoch so far
	Loss           float64 // running mean loss per example this epoch (−ELBO with the KL weight)
	// Done is set once per epoch, after validation, with the epoch's metrics.
	Done *EpochMetrics
}

// EpochMetrics is one line of metrics.jsonl. ELBO, reconstruction and KL are
// per example; the training figures average the batches of the epoch (each
// evaluated with the weights of its step, as is usual), the validation ones
// evaluate every validation example after the epoch.
type EpochMetrics struct {
	Epoch         int      `json:"epoch"`
	TrainELBO     float64  `json:"train_elbo"`
	TrainRecon    float64  `json:"train_recon"`
	TrainKL       float64  `json:"train_kl"`
	ValELBO       *float64 `json:"val_elbo,omitempty"`
	ValRecon      *float64 `json:"val_recon,omitempty"`
	ValKL         *float64 `json:"val_kl,omitempty"`
	KLWeight      float64  `json:"kl_weight"`
	SamplesPerSec float64  `json:"samples_per_sec"` // training examples per second (validation excluded)
	Seconds       float64  `json:"seconds"`         // wall time of the epoch, validation included

	// The trained bound when it is not the ELBO (objective iwae): per
	// example, training averaged over the batches, validation as above.
	// "Best" then means the best validation bound.
	Objective  string   `json:"objective,omitempty"`
	TrainBound *float64 `json:"train_bound,omitempty"`
	ValBound   *float64 `json:"val_bound,omitempty"`
}

// Result is the outcome of Train.
type Result struct {
	Weights      map[string]checkpoint.Tensor
	Epoch        int            // completed epochs
	Steps        int64          // optimizer steps taken
	History      []EpochMetrics // epochs run by this call
	BestELBO     float64        // best validation (or training) ELBO so far
	BestEpoch    int
	StoppedEarly bool // patience ran out
}

// KLWeight is the weight of the KL term in epoch (1-based): β, ramped
// linearly from 0 over the first warmup epochs (0, β/W, 2β/W, …, then β).
func KLWeight(o ir.Objective, epoch int) float64 {
	if o.WarmupEpochs <= 0 || epoch > o.WarmupEpochs {
		return o.Beta
	}
	return o.Beta * float64(epoch-1) / float64(o.WarmupEpochs)
}

// trainer holds one training run's mutable state.
type trainer struct {
	m     *ir.Model
	opts  TrainOptions
	w     map[string]checkpoint.Tensor
	names []string
	data  [][]float32 // trainable parameter arrays, m.Trainable order
	opt   *optimizer
	pcg   *rand.PCG
	rng   *rand.Rand
	st    checkpoint.State
	store Store            // nil: nothing is kept
	steps map[int]*stepper // per batch size: the data-parallel step (parallel.go)
	eval  *evaluator
	// packs are the steppers' packed weights (prepack.go), one copy per
	// weight and orientation for all batch sizes.
	packs *packSet
}

// Train trains m on opts.Train and returns the final weights. It is
// deterministic: the same model, data and seed give bit-identical weights,
// and a run resumed from a checkpoint ends where an uninterrupted one would.
//
// Batches: each epoch shuffles the training set with the trainer's
// generator and takes full batches of m.Train.BatchSize; the remaining
// N mod B examples form one smaller last batch (a graph of its own), so every
// example is used every epoch.
//
// Cancelling ctx stops at the next batch boundary: the partial epoch is
// abandoned (the store already holds the last completed one) and the error
// wraps ErrInterrupted. A NaN or infinite loss stops training with an error
// naming epoch and batch; the store keeps the last good epoch.
func Train(ctx context.Context, m *ir.Model, opts TrainOptions) (*Result, error) {
	if err := checkModel(m); err != nil {
		return nil, err
	}
	if err := checkSet("training", opts.Train, m); err != nil {
		return nil, err
	}
	if opts.Val != nil {
		if err := checkSet("validation", opts.Val, m); err != nil {
			return nil, err
		}
	}
	if m.Train.BatchSize <= 0 {
		return nil, errorf("train.batch_size: %d must be positive", m.Train.BatchSize)
	}
	if err := checkLabels(m, opts); err != nil {
		return nil, err
	}
	epochs := opts.Epochs
	if epochs <= 0 {
		epochs = m.Train.Epochs
	}
	t := &trainer{m: m, opts: opts, steps: map[int]*stepper{}, store: opts.Store}
	if t.store == nil && (opts.Checkpoint != "" || opts.Best != "" || opts.Metrics != "") {
		t.store = &fileStore{checkpoint: opts.Checkpoint, best: opts.Best, metrics: opts.Metrics, fresh: !opts.Resume}
	}
	defer t.close()
	var err error
	if t.opt, err = newOptimizer(m); err != nil {
		return nil, err
	}
	if opts.Resume {
		if err := t.resume(); err != nil {
			return nil, err
		}
	} else {
		t.w = InitWeights(m, m.Train.Seed)
		t.pcg = rand.NewPCG(m.Train.Seed, streamTrain)
		t.st = checkpoint.State{SpecHash: m.SpecHash}
	}
	t.rng = rand.New(t.pcg)
	for _, p := range m.Trainable() {
		t.names = append(t.names, p.Name)
		t.data = append(t.data, t.w[p.Name].Data)
	}
	samples := max(m.Objective.Samples, 1)
	t.eval = newEvaluator(m, t.w, samples)

	res := &Result{Weights: t.w}
	if t.st.Epoch < epochs {
		// The step graphs of both batch sizes an epoch uses are built
		// before the first epoch's clock starts: model construction, not
		// training (PyTorch's reference builds its model outside its
		// timer too), and a model whose graphs cannot be built fails
		// before any epoch.
		bs := min(m.Train.BatchSize, opts.Train.N)
		for _, size := range []int{bs, opts.Train.N % bs} {
			if size == 0 {
				continue
			}
			if _, err := t.stepper(size); err != nil {
				return nil, err
			}
		}
	}
	for t.st.Epoch < epochs {
		if m.Train.Patience > 0 && t.st.Stale >= m.Train.Patience {
			res.StoppedEarly = true
			break
		}
		em, err := t.epoch(ctx, t.st.Epoch+1, epochs)
		if err != nil {
			t.fill(res)
			return res, err
		}
		res.History = append(res.History, em)
	}
	if m.Train.Patience > 0 && t.st.Stale >= m.Train.Patience {
		res.StoppedEarly = true
	}
	t.fill(res)
	return res, nil
}

func (t *trainer) fill(res *Result) {
	res.Epoch, res.Steps, res.BestEpoch = t.st.Epoch, t.st.Step, t.st.BestEpoch
	res.BestELBO = math.NaN()
	if t.st.BestValELBO != nil {
		res.BestELBO = *t.st.BestValELBO
	}
}

func (t *trainer) close() {
	for _, s := range t.steps {
		s.close()
	}
	if t.eval != nil {
		t.eval.close()
	}
}

func checkSet(what string, s *dataset.Set, m *ir.Model) error {
	if s == nil || s.N == 0 {
		return errorf("%s data: no examples", what)
	}
	if s.D != m.Input.Size || len(s.X) != s.N*s.D {
		return errorf("%s data: %d features per example (%d values for %d examples), the model takes %d", what, s.D, len(s.X), s.N, m.Input.Size)
	}
	if m.Likelihood.Kind == ir.Bernoulli {
		// vaec build checks this on files it can read quickly; larger ones
		// are checked here, before the first step.
		lo, hi := float32(math.Inf(1)), float32(math.Inf(-1))
		for _, v := range s.X {
			lo, hi = min(lo, v), max(hi, v)
		}
		if lo < 0 || hi > 1+1e-6 {
			return errorf("%s data: the bernoulli likelihood needs inputs in [0, 1], but the records span [%g, %g] after scaling (scale the data into [0, 1] with input.scale and input.offset, or input.normalize: minmax, or use likelihood: gaussian)", what, lo, hi)
		}
	}
	return nil
}

// MaxLoss bounds the loss, in nats per example, that training accepts: a
// model this far from its data (raw features in the thousands under a
// Gaussian of unit variance, say) is not learning, and a finished run with
// a validation ELBO of −1e34 would be reported as success.
const MaxLoss = 1e8

// resume restores weights, optimizer, generator and counters from the
// store's last commit, refusing a checkpoint of another spec.
func (t *trainer) resume() error {
	if t.store == nil {
		return errorf("resume: no store to resume from")
	}
	c, err := t.store.Last()
	if err != nil {
		return errorf("resume: %v", err)
	}
	if c == nil {
		return errorf("resume: no checkpoint to resume from")
	}
	path := "the checkpoint"
	if t.opts.Checkpoint != "" {
		path = t.opts.Checkpoint
	}
	if c.State.SpecHash != t.m.SpecHash {
		return errorf("resume: %s was trained from a different spec (spec hash %s, this model's is %s); train without --resume to start over",
			path, short(c.State.SpecHash), short(t.m.SpecHash))
	}
	if st := c.State; st.Epoch < 0 || st.Step < 0 || st.Stale < 0 || st.BestEpoch < 0 || st.BestEpoch > st.Epoch {
		return errorf("resume: %s: inconsistent training state (epoch %d, step %d, best epoch %d, stale %d)", path, st.Epoch, st.Step, st.BestEpoch, st.Stale)
	}
	if err := checkWeights(t.m, c.Weights); err != nil {
		return errorf("resume: %s: %v", path, err)
	}
	if err := t.opt.restore(c.Optimizer); err != nil {
		return errorf("resume: %s: %v", path, err)
	}
	t.pcg = &rand.PCG{}
	if err := t.pcg.UnmarshalBinary(c.State.RNG); err != nil {
		return errorf("resume: %s: generator state: %v", path, err)
	}
	t.w = make(map[string]checkpoint.Tensor, len(t.m.Params))
	for _, p := range t.m.Params {
		t.w[p.Name] = checkpoint.Tensor{Shape: append([]int(nil), p.Shape...), Data: c.Weights[p.Name].Data}
	}
	t.st = c.State
	return nil
}

func short(h string) string {
	if len(h) > 12 {
		return h[:12]
	}
	if h == "" {
		return `""`
	}
	return h
}

// snapshot deep-copies the current state into a checkpoint.
func (t *trainer) snapshot() (*checkpoint.Checkpoint, error) {
	rngState, err := t.pcg.MarshalBinary()
	if err != nil {
		return nil, errorf("generator state: %v", err)
	}
	c := &checkpoint.Checkpoint{Weights: map[string]checkpoint.Tensor{}, Optimizer: map[string]checkpoint.Tensor{}, State: t.st}
	c.State.RNG = rngState
	for k, v := range t.w {
		c.Weights[k] = checkpoint.Tensor{Shape: v.Shape, Data: append([]float32(nil), v.Data...)}
	}
	for k, v := range t.opt.state() {
		c.Optimizer[k] = checkpoint.Tensor{Shape: v.Shape, Data: append([]float32(nil), v.Data...)}
	}
	c.State.Extra = map[string]string{"optimizer": t.m.Train.Optimizer.Kind.String()}
	return c, nil
}

func (t *trainer) stepper(batch int) (*stepper, error) {
	if s, ok := t.steps[batch]; ok {
		return s, nil
	}
	samples := max(t.m.Objective.Samples, 1)
	if t.packs == nil {
		t.packs = newPackSet()
	}
	s, err := newStepper(t.m, t.data, batch, samples, t.packs, func(rows int) (*net, error) {
		return buildNet(t.m, t.w, rows, samples, true)
	})
	if err != nil {
		return nil, err
	}
	t.steps[batch] = s
	return s, nil
}

// epoch runs one epoch (1-based) and writes its checkpoint and metrics.
func (t *trainer) epoch(ctx context.Context, epoch, epochs int) (EpochMetrics, error) {
	start := time.Now()
	set := t.opts.Train
	bs := min(t.m.Train.BatchSize, set.N)
	batches := (set.N + bs - 1) / bs
	klw := KLWeight(t.m.Objective, epoch)
	perm := t.rng.Perm(set.N)
	var recon, kl, lossSum, bound float64
	done := 0
	for b := 0; b < batches; b++ {
		if err := ctx.Err(); err != nil {
			return EpochMetrics{}, t.interrupted(epoch, b, batches)
		}
		size := min(bs, set.N-done)
		s, err := t.stepper(size)
		if err != nil {
			return EpochMetrics{}, err
		}
		s.labels, s.classes = set.Labels, t.m.Condition.Classes
		r, k, loss, bnd, err := s.forward(set.X, set.D, perm[done:done+size], t.rng, float32(klw))
		if err != nil {
			return EpochMetrics{}, errorf("epoch %d batch %d: %v", epoch, b+1, err)
		}
		if !finite(loss) || !finite(r) || !finite(k) {
			return EpochMetrics{}, errorf("epoch %d batch %d/%d: the loss is %v (recon %v, KL %v); training stopped, %s", epoch, b+1, batches, loss, r, k, t.kept())
		}
		if loss > MaxLoss {
			return EpochMetrics{}, errorf("epoch %d batch %d/%d: the loss is %.4g nats per example, beyond %.0e: the model cannot explain the data at this scale (features with large raw values? add input.normalize: standardize); training stopped, %s",
				epoch, b+1, batches, loss, MaxLoss, t.kept())
		}
		t.st.Step++
		s.update(t.opt, t.st.Step)
		recon += r
		bound += bnd
		kl += k
		lossSum += loss * float64(size)
		done += size
		if t.opts.Progress != nil {
			t.opts.Progress(Progress{Epoch: epoch, Epochs: epochs, Batch: b + 1, Batches: batches, Samples: done,
				SamplesPerSec: float64(done) / time.Since(start).Seconds(), Loss: lossSum / float64(done)})
		}
	}
	trainSecs := time.Since(start).Seconds()
	em := EpochMetrics{Epoch: epoch, KLWeight: klw, SamplesPerSec: float64(set.N) / trainSecs}
	em.TrainRecon, em.TrainKL = recon/float64(set.N), kl/float64(set.N)
	em.TrainELBO = -(em.TrainRecon + em.TrainKL)
	score := em.TrainELBO
	iwae := t.m.Objective.Kind == ir.IWAE
	if iwae {
		em.Objective, em.TrainBound = t.m.Objective.Kind.String(), ptr(bound/float64(set.N))
		score = *em.TrainBound
	}
	if t.opts.Val != nil {
		// The same noise every epoch, so that epochs compare on equal terms.
		vm, err := t.eval.evaluate(t.opts.Val, t.m.Train.Seed)
		if err != nil {
			return EpochMetrics{}, errorf("epoch %d validation: %v", epoch, err)
		}
		if !finite(vm.ELBO) {
			return EpochMetrics{}, errorf("epoch %d validation: the ELBO is %v; training stopped, %s", epoch, vm.ELBO, t.kept())
		}
		if -vm.ELBO > MaxLoss {
			return EpochMetrics{}, errorf("epoch %d validation: the ELBO is %.4g nats per example, below −%.0e: the model cannot explain the validation data at this scale (features with large raw values? add input.normalize: standardize); training stopped, %s",
				epoch, vm.ELBO, MaxLoss, t.kept())
		}
		em.ValELBO, em.ValRecon, em.ValKL = &vm.ELBO, &vm.Recon, &vm.KL
		score = vm.ELBO
		if iwae {
			em.ValBound = ptr(vm.Bound)
			score = vm.Bound
		}
	}
	em.Seconds = time.Since(start).Seconds()

	t.st.Epoch = epoch
	t.st.TrainELBO = ptr(em.TrainELBO)
	t.st.ValELBO = em.ValELBO
	improved := t.st.BestValELBO == nil || score > *t.st.BestValELBO
	if improved {
		t.st.BestValELBO, t.st.BestEpoch, t.st.Stale = ptr(score), epoch, 0
	} else {
		t.st.Stale++
	}
	c, err := t.snapshot()
	if err != nil {
		return EpochMetrics{}, err
	}
	c.State.Extra["kl_weight"] = strconv.FormatFloat(klw, 'g', -1, 64)
	if t.store != nil {
		line, err := json.Marshal(em)
		if err != nil {
			return EpochMetrics{}, errorf("epoch %d: metrics: %v", epoch, err)
		}
		if err := t.store.CommitEpoch(c, improved, line); err != nil {
			return EpochMetrics{}, errorf("epoch %d: %v", epoch, err)
		}
	}
	if t.opts.Progress != nil {
		t.opts.Progress(Progress{Epoch: epoch, Epochs: epochs, Batch: batches, Batches: batches, Samples: set.N,
			SamplesPerSec: em.SamplesPerSec, Loss: lossSum / float64(set.N), Done: &em})
	}
	return em, nil
}

// kept describes what the store holds after a failure.
func (t *trainer) kept() string {
	switch {
	case t.store == nil:
		return "no checkpoint is written"
	case t.st.Epoch == 0:
		return "no epoch completed, so no checkpoint was written"
	}
	return fmt.Sprintf("the checkpoint keeps epoch %d", t.st.Epoch)
}

// interrupted returns the ErrInterrupted error. Nothing needs saving: the
// store holds the last completed epoch already.
func (t *trainer) interrupted(epoch, batch, batches int) error {
	msg := fmt.Sprintf("in epoch %d after batch %d/%d", epoch, batch, batches)
	switch {
	case t.store == nil:
		return fmt.Errorf("%w %s", ErrInterrupted, msg)
	case t.st.Epoch == 0:
		return fmt.Errorf("%w %s; no epoch completed, so nothing was saved", ErrInterrupted, msg)
	}
	return fmt.Errorf("%w %s; the checkpoint holds the state after epoch %d (resume to continue)", ErrInterrupted, msg, t.st.Epoch)
}

func ptr(v float64) *float64 { return &v }
