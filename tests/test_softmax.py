"""The softmax models of notebooks 11 and 12: gradients against finite differences,
known optima, minibatches, frequency groups, training with the series' optimizers."""

import numpy as np
import pytest

from helpers import REGISTRY, adam, sgd
from helpers.softmax import (BigramTable, LinearSoftmax, LogBilinearBigram, evaluation_steps,
                             frequency_groups, leaves_zero_gradient_alone, log_softmax,
                             make_teacher_problem, reweight_classes, train_classifier,
                             tune_learning_rate, zipf_frequencies)


def numerical_gradient(function, params, h=1e-6):
    grad = np.zeros_like(params)
    for i in range(params.size):
        step = np.zeros_like(params)
        step.flat[i] = h
        grad.flat[i] = (function(params + step) - function(params - step)) / (2 * h)
    return grad


@pytest.fixture
def small_teacher():
    return make_teacher_problem(zipf_frequencies(6), n_contexts=5, dim=3, seeds=7)


def test_linear_softmax_full_gradient_matches_finite_differences(small_teacher):
    model = small_teacher.model
    params = np.random.default_rng(0).normal(size=model.n_params)
    numeric = numerical_gradient(lambda p: float(model.loss(p)), params)
    np.testing.assert_allclose(model.gradient(params), numeric, rtol=1e-6, atol=1e-9)


def test_linear_softmax_minibatch_gradient_matches_finite_differences(small_teacher):
    model = small_teacher.model
    params = np.random.default_rng(1).normal(size=model.n_params)
    counts = model.draw_batch(np.random.default_rng(2), 7)
    assert counts.shape == model.targets.shape and counts.sum() == 7

    def batch_loss(p):
        log_p = log_softmax(model.features @ p.reshape(model.dim, model.n_classes))
        return -(counts * log_p).sum() / 7

    numeric = numerical_gradient(batch_loss, params)
    np.testing.assert_allclose(model.gradient(params, counts), numeric, rtol=1e-6, atol=1e-9)


def test_linear_softmax_draws_follow_the_data_and_share_contexts():
    problem = make_teacher_problem(zipf_frequencies(8), n_contexts=4, dim=2, seeds=[1, 2])
    model = problem.model
    counts = model.draw_batch(np.random.default_rng(3), 400_000)
    joint = model.weights[:, None] * model.targets
    np.testing.assert_allclose(counts / 400_000, joint, atol=0.003)
    # The same contexts in both problems (common random numbers), their own classes.
    np.testing.assert_array_equal(counts[0].sum(-1), counts[1].sum(-1))


def test_minibatch_gradient_is_unbiased(small_teacher):
    model = small_teacher.model
    params = np.random.default_rng(3).normal(size=model.n_params)
    rng = np.random.default_rng(4)
    mean = np.mean([model.gradient(params, model.draw_batch(rng, 50)) for _ in range(2000)],
                   axis=0)
    # 100,000 samples: the mean is within a few hundredths of the full gradient.
    np.testing.assert_allclose(mean, model.gradient(params), atol=0.02)


def test_teacher_optimum_is_a_minimum_and_frequencies_are_exact():
    frequencies = zipf_frequencies(40)
    problem = make_teacher_problem(frequencies, n_contexts=16, dim=4, seeds=[1, 2])
    model = problem.model
    np.testing.assert_allclose(model.counts, np.stack([frequencies] * 2), rtol=1e-10)
    np.testing.assert_allclose(model.gradient(problem.optimum), 0, atol=1e-12)
    nudged = problem.optimum + np.random.default_rng(5).normal(size=problem.optimum.shape) * 0.1
    assert np.all(model.loss(nudged) > model.loss(problem.optimum))
    # The loss at the optimum is the entropy of the targets (the student can copy them).
    targets = model.targets
    entropy = -(targets * np.log(targets)).sum(-1).mean(-1)
    np.testing.assert_allclose(model.loss(problem.optimum), entropy, rtol=1e-12)


def test_stacked_problems_match_one_at_a_time():
    frequencies = zipf_frequencies(10)
    both = make_teacher_problem(frequencies, n_contexts=6, dim=3, seeds=[3, 4]).model
    params = np.random.default_rng(6).normal(size=(2, 4, both.n_params))
    for s, seed in enumerate([3, 4]):
        alone = make_teacher_problem(frequencies, n_contexts=6, dim=3, seeds=seed).model
        np.testing.assert_allclose(both.gradient(params)[s], alone.gradient(params[s]),
                                   rtol=1e-12)
        np.testing.assert_allclose(both.class_losses(params)[s], alone.class_losses(params[s]),
                                   rtol=1e-12)
    with pytest.raises(ValueError, match="problems side by side"):
        both.gradient(np.zeros(both.n_params))


def bigram_model():
    counts = np.array([[3, 1, 0, 0], [0, 0, 2, 1], [1, 0, 0, 4], [2, 2, 1, 0]], float)
    return BigramTable(counts)


def test_bigram_full_gradient_matches_finite_differences():
    model = bigram_model()
    params = np.random.default_rng(7).normal(size=model.n_params)
    numeric = numerical_gradient(lambda p: float(model.loss(p)), params)
    np.testing.assert_allclose(model.gradient(params), numeric, rtol=1e-6, atol=1e-9)


def test_bigram_minibatch_gradient_matches_finite_differences_and_is_row_sparse():
    model = bigram_model()
    params = np.random.default_rng(8).normal(size=model.n_params)
    batch = np.array([[0, 1], [0, 0], [2, 3], [0, 0]])

    def batch_loss(p):
        log_p = log_softmax(p.reshape(4, 4))
        return -log_p[batch[:, 0], batch[:, 1]].mean()

    grad = model.gradient(params, batch)
    np.testing.assert_allclose(grad, numerical_gradient(batch_loss, params), rtol=1e-6,
                               atol=1e-9)
    rows = grad.reshape(4, 4)
    assert np.all(rows[[1, 3]] == 0) and np.all(rows[[0, 2]] != 0)


def test_bigram_draws_follow_the_pair_counts():
    model = bigram_model()
    batch = model.draw_batch(np.random.default_rng(9), 200_000)
    drawn = np.zeros((4, 4))
    np.add.at(drawn, (batch[:, 0], batch[:, 1]), 1)
    expected = model.pair_counts / model.pair_counts.sum()
    np.testing.assert_allclose(drawn / drawn.sum(), expected, atol=0.004)
    assert np.all(drawn[model.pair_counts == 0] == 0)


def test_bigram_optimum_is_the_conditional_entropy():
    model = bigram_model()
    counts = model.pair_counts
    conditional = counts / counts.sum(1, keepdims=True)
    entropy = -(counts[counts > 0] * np.log(conditional[counts > 0])).sum() / counts.sum()
    assert model.optimum_loss() == pytest.approx(entropy, rel=1e-12)
    # The table log(n_ab / n_a) (very negative where n_ab = 0) reaches it.
    table = np.log(np.where(counts > 0, conditional, 1e-300))
    assert model.loss(table.ravel()) == pytest.approx(entropy, rel=1e-9)
    per_class = model.class_losses(table.ravel())
    np.testing.assert_allclose(per_class, model.optimum_class_losses(), rtol=1e-9)
    np.testing.assert_allclose(model.input_losses(table.ravel()), model.optimum_input_losses(),
                               rtol=1e-9)


def test_frequency_groups_split_by_data_share():
    frequencies = zipf_frequencies(500)
    groups = frequency_groups(frequencies, 5)
    assert groups.n_groups == 5 and groups.sizes.sum() == 500
    assert np.all(np.diff(groups.sizes) > 0)              # rarer groups hold more classes
    assert np.all(np.abs(groups.share - 0.2) < 0.1)
    assert list(np.concatenate(groups.members)) == list(range(500))
    per_class = np.arange(500.0)
    expected = [per_class[m] @ frequencies[m] / frequencies[m].sum() for m in groups.members]
    np.testing.assert_allclose(groups.mean_over_groups(per_class), expected)
    with pytest.raises(ValueError, match="not possible"):
        frequency_groups([0.9, 0.05, 0.05], 3)
    with pytest.raises(ValueError, match="positive"):
        frequency_groups([1.0, 0.0], 1)


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_every_optimizer_trains_the_softmax_unchanged(name, small_teacher):
    optimizer = REGISTRY[name].factory(lr=np.array([[1e-3], [1e-2]]))
    run = train_classifier(optimizer, small_teacher.model, 20, record_steps=[0, 20])
    assert run.class_losses.shape == (2, 2, small_teacher.model.n_classes)
    assert np.all(run.loss[:, 1] < run.loss[:, 0])        # every one of them learns
    assert np.all(run.diverged_at == 0)


def test_full_batch_sgd_matches_a_hand_written_loop(small_teacher):
    model = small_teacher.model
    run = train_classifier(sgd(0.5), model, 30, record_steps=[30])
    w = np.zeros(model.n_params)
    for _ in range(30):
        w = w - 0.5 * model.gradient(w)
    np.testing.assert_allclose(run.params, w, rtol=1e-12)
    np.testing.assert_allclose(run.loss[-1], model.loss(w), rtol=1e-12)


def test_same_batches_for_every_optimizer(small_teacher):
    model = small_teacher.model
    rng = np.random.default_rng(11)
    batches = [model.draw_batch(rng, 8) for _ in range(15)]
    direct = train_classifier(adam(0.01), model, 15, batches=batches)
    again = train_classifier(adam(0.01), model, 15, batch_size=8,
                             rng=np.random.default_rng(11))
    np.testing.assert_array_equal(direct.params, again.params)


def test_divergence_is_marked_with_its_step():
    counts = np.array([[50, 1], [1, 50]], float)
    run = train_classifier(sgd(np.array([[1.0], [1e9]])), BigramTable(counts), 5,
                           w0=np.zeros((2, 4)), record_steps=[5])
    assert run.diverged_at[0] == 0 and run.diverged_at[1] == 1
    assert np.isnan(run.loss[1, -1]) and np.isfinite(run.loss[0, -1])


def test_training_arguments_are_checked(small_teacher):
    model = small_teacher.model
    with pytest.raises(ValueError, match="leave rng out"):
        train_classifier(sgd(0.1), model, 5, rng=np.random.default_rng(0))
    with pytest.raises(TypeError, match="Generator"):
        train_classifier(sgd(0.1), model, 5, batch_size=4, rng=42)
    with pytest.raises(ValueError, match="record_steps"):
        train_classifier(sgd(0.1), model, 5, record_steps=[3, 2])
    with pytest.raises(TypeError, match="helpers"):
        train_classifier("sgd", model, 5)
    with pytest.raises(ValueError, match="params must have shape"):
        model.gradient(np.zeros(3))


def test_model_inputs_are_checked():
    with pytest.raises(ValueError, match="probability distribution"):
        LinearSoftmax(np.ones((2, 3)), np.array([[0.5, 0.6], [1.0, 0.0]]))
    with pytest.raises(ValueError, match="square"):
        BigramTable(np.ones((2, 3)))
    with pytest.raises(ValueError, match="whole numbers"):
        BigramTable(np.array([[0.5, 1], [1, 1]]))
    with pytest.raises(ValueError, match="sum to 1"):
        make_teacher_problem([0.5, 0.6], n_contexts=2, dim=2, seeds=0)
    with pytest.raises(ValueError, match=">= 0"):
        zipf_frequencies(5, -1)


def test_tuning_and_evaluation_steps():
    assert tune_learning_rate([0.5, np.nan, 0.2, 0.3], [1, 2, 3, 4]) == (3.0, 2)
    with pytest.raises(ValueError, match="every learning rate diverged"):
        tune_learning_rate([np.nan, np.nan], [1, 2])
    steps = evaluation_steps(300, 20)
    assert steps[0] == 0 and steps[-1] == 300 and np.all(np.diff(steps) > 0)


def test_which_optimizers_leave_a_zero_gradient_alone():
    alone = {name for name in REGISTRY
             if leaves_zero_gradient_alone(REGISTRY[name].factory(lr=0.1))}
    assert alone == {"sgd", "sign_descent", "adagrad", "lazy_adam"}
    assert not leaves_zero_gradient_alone(sgd(np.array([[0.1], [0.2]])))   # grids: dense


@pytest.mark.parametrize("name", ["sgd", "sign_descent", "adagrad", "lazy_adam", "adam"])
def test_row_updates_give_exactly_the_dense_result(name):
    model = bigram_model()
    batches = [model.draw_batch(np.random.default_rng(12), 3) for _ in range(6)]
    fast = train_classifier(REGISTRY[name].factory(lr=0.05), model, 6, batches=batches)
    w = np.zeros(model.n_params)
    optimizer = REGISTRY[name].factory(lr=0.05)
    state = optimizer.init(w)
    for batch in batches:
        w, state = optimizer.step(w, model.gradient(w, batch), state)
    np.testing.assert_array_equal(fast.params, w)


def test_monitors_are_recorded_at_the_same_steps():
    model = bigram_model()
    validation = BigramTable(np.ones((4, 4)))
    run = train_classifier(sgd(np.array([[0.1], [1.0]])), model, 10, w0=np.zeros((2, 16)),
                           record_steps=[0, 5, 10],
                           monitors={"validation": validation.class_losses})
    assert run.monitored["validation"].shape == (2, 3, 4)
    np.testing.assert_allclose(run.monitored["validation"][:, -1],
                               validation.class_losses(run.params))
    with pytest.raises(TypeError, match="monitors"):
        train_classifier(sgd(0.1), model, 2, monitors={"x": 3})


def test_training_leaves_the_starting_weights_untouched():
    model = bigram_model()
    w0 = np.full(model.n_params, 0.5)
    train_classifier(sgd(0.1), model, 3, batch_size=4, rng=np.random.default_rng(0), w0=w0)
    assert np.all(w0 == 0.5)


# --- the log-bilinear model (notebook 13) and the class-reweighted loss (notebook 11) ------

def log_bilinear_model(dim=2):
    counts = np.array([[3, 1, 0, 0, 1], [0, 0, 2, 1, 0], [1, 0, 0, 4, 2], [2, 2, 1, 0, 0],
                       [0, 1, 1, 1, 0]], float)
    return LogBilinearBigram(counts, dim=dim)


def log_bilinear_by_hand(model, params):
    """Logits E[a] U + c written out entry by entry, for the checks below."""
    size, dim = model.vocab_size, model.dim
    embedding = params[:size * dim].reshape(size, dim)
    output = params[size * dim:2 * size * dim].reshape(dim, size)
    bias = params[2 * size * dim:]
    return np.array([[embedding[a] @ output[:, b] + bias[b] for b in range(size)]
                     for a in range(size)])


def test_log_bilinear_loss_and_views_match_a_hand_computation():
    model = log_bilinear_model()
    params = model.initial_params(np.random.default_rng(3), scale=1.0)
    assert params.shape == (model.n_params,) == (2 * 5 * 2 + 5,)
    assert np.all(params[-5:] == 0)                           # biases start at zero
    logits = log_bilinear_by_hand(model, params)
    np.testing.assert_allclose(model.logits(params), logits, rtol=1e-12)
    log_p = log_softmax(logits)
    counts = model.pair_counts
    assert model.loss(params) == pytest.approx(-(counts * log_p).sum() / counts.sum(), rel=1e-12)
    np.testing.assert_allclose(model.class_losses(params),
                               -(counts * log_p).sum(0) / counts.sum(0), rtol=1e-12)
    np.testing.assert_allclose(model.input_losses(params),
                               -(counts * log_p).sum(1) / counts.sum(1), rtol=1e-12)


@pytest.mark.parametrize("dim", [1, 3])
def test_log_bilinear_full_gradient_matches_finite_differences(dim):
    model = log_bilinear_model(dim)
    params = model.initial_params(np.random.default_rng(dim), scale=1.0)
    params[-5:] = np.random.default_rng(10 + dim).normal(size=5)
    numeric = numerical_gradient(lambda p: float(model.loss(p)), params)
    np.testing.assert_allclose(model.gradient(params), numeric, rtol=1e-6, atol=1e-9)


def test_log_bilinear_minibatch_gradient_matches_finite_differences():
    model = log_bilinear_model(2)
    params = np.random.default_rng(4).normal(size=model.n_params)
    batch = np.array([[0, 1], [0, 0], [2, 3], [0, 0], [4, 2]])

    def batch_loss(p):
        log_p = log_softmax(log_bilinear_by_hand(model, p))
        return -log_p[batch[:, 0], batch[:, 1]].mean()

    grad = model.gradient(params, batch)
    np.testing.assert_allclose(grad, numerical_gradient(batch_loss, params), rtol=1e-6,
                               atol=1e-9)
    embedding_grad, output_grad, _ = model.split(grad)
    assert np.all(embedding_grad[[1, 3]] == 0)            # rows absent from the batch
    assert np.all(output_grad != 0)                       # class weights: every pair


def test_log_bilinear_runs_side_by_side_match_one_at_a_time():
    model = log_bilinear_model(2)
    stacked = model.initial_params(np.random.default_rng(5), scale=1.0, n_runs=3)
    batch = model.draw_batch(np.random.default_rng(6), 7)
    for samples in (None, batch):
        together = model.gradient(stacked, samples)
        for r in range(3):
            np.testing.assert_allclose(together[r], model.gradient(stacked[r], samples),
                                       rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(model.loss(stacked), [model.loss(p) for p in stacked],
                               rtol=1e-13)


def test_log_bilinear_trains_and_its_zero_start_is_a_saddle():
    model = log_bilinear_model(2)
    zero = np.zeros(model.n_params)
    embedding_grad, output_grad, bias_grad = model.split(model.gradient(zero))
    assert np.all(embedding_grad == 0) and np.all(output_grad == 0)
    assert np.any(bias_grad != 0)                         # only the biases would move
    start = model.initial_params(np.random.default_rng(0))
    run = train_classifier(adam(lr=0.05), model, 500, w0=start, record_steps=[0, 500])
    assert run.loss[-1] < run.loss[0] - 0.3
    assert run.loss[-1] > model.optimum_loss() - 1e-9     # never below the table's floor


def test_cell_losses_split_the_loss_by_previous_and_next_word():
    model = log_bilinear_model(2)
    params = model.initial_params(np.random.default_rng(1), scale=1.0)
    previous = frequency_groups(model.input_counts, 2)
    following = frequency_groups(model.target_counts, 2)
    cells = model.cell_losses(params, previous, following)
    assert cells.shape == (2, 2)
    counts = np.array([[model.pair_counts[np.ix_(r, c)].sum() for c in following.members]
                       for r in previous.members])
    assert (cells * counts).sum() / counts.sum() == pytest.approx(float(model.loss(params)))
    with pytest.raises(TypeError, match="previous_groups"):
        model.cell_losses(params, "by frequency", following)
    with pytest.raises(TypeError, match="next_groups"):
        model.cell_losses(params, previous, frequency_groups([1.0, 2.0], 1))


def test_log_bilinear_inputs_are_checked():
    counts = log_bilinear_model().pair_counts
    with pytest.raises(ValueError, match="dim"):
        LogBilinearBigram(counts, dim=0)
    with pytest.raises(ValueError, match="dim"):
        LogBilinearBigram(counts, dim=6)                  # more than V
    with pytest.raises(TypeError, match="dim"):
        LogBilinearBigram(counts, dim=2.5)
    with pytest.raises(ValueError, match="pair_counts"):
        LogBilinearBigram(np.where(counts > 0, np.inf, 0.0), dim=2)
    model = LogBilinearBigram(counts, dim=2)
    with pytest.raises(TypeError, match="rng"):
        model.initial_params(42)
    with pytest.raises(ValueError, match="scale"):
        model.initial_params(np.random.default_rng(0), scale=0.0)
    with pytest.raises(ValueError, match="params"):
        model.loss(np.zeros(model.n_params + 1))


def test_models_keep_their_own_copy_of_the_counts():
    counts = log_bilinear_model().pair_counts.copy()
    model = LogBilinearBigram(counts, dim=2)
    table = BigramTable(counts)
    before = float(model.loss(np.zeros(model.n_params)))
    counts[0, 0] += 100                                   # the caller changes its array
    assert float(model.loss(np.zeros(model.n_params))) == before
    assert table.pair_counts[0, 0] == 3
    assert counts.flags.writeable                         # and it stays the caller's to change


def test_reweighted_loss_gradient_and_optimum():
    problem = make_teacher_problem(zipf_frequencies(6), n_contexts=5, dim=3, seeds=7)
    weights = 1.0 / problem.model.counts
    reweighted = reweight_classes(problem, weights)
    model = reweighted.model
    # Its gradient is the weighted loss's, full batch and minibatch ...
    params = np.random.default_rng(2).normal(size=model.n_params)
    numeric = numerical_gradient(lambda p: float(model.weighted_loss(p)), params)
    np.testing.assert_allclose(model.gradient(params), numeric, rtol=1e-6, atol=1e-8)
    counts = model.draw_batch(np.random.default_rng(3), 9)

    def batch_loss(p):
        log_p = log_softmax(model.features @ p.reshape(model.dim, model.n_classes))
        return -(counts * log_p * weights).sum() / 9

    np.testing.assert_allclose(model.gradient(params, counts),
                               numerical_gradient(batch_loss, params), rtol=1e-6, atol=1e-8)
    # ... its minimiser is the teacher with biases raised by log a_k ...
    np.testing.assert_allclose(model.gradient(reweighted.optimum), 0.0, atol=1e-12)
    assert float(model.weighted_loss(reweighted.optimum)) < float(model.weighted_loss(
        problem.optimum))
    # ... and what it reports is still the plain cross-entropy.
    np.testing.assert_allclose(model.class_losses(params), problem.model.class_losses(params),
                               rtol=1e-12)
    # Every class weighs the same in it: a_k pi_k = 1 for each k.
    np.testing.assert_allclose(weights * model.counts, 1.0, rtol=1e-12)
    with pytest.raises(ValueError, match="class_weights"):
        reweight_classes(problem, -weights)
    with pytest.raises(ValueError, match="class_weights"):
        reweight_classes(problem, weights[:3])
    with pytest.raises(TypeError, match="TeacherProblem"):
        reweight_classes(problem.model, weights)


@pytest.mark.parametrize("make", [lambda c: BigramTable(c), lambda c: LogBilinearBigram(c, dim=2)],
                         ids=["table", "log-bilinear"])
@pytest.mark.parametrize("name", ["sgd", "adam"])
def test_single_precision_runs_stay_single_and_match_double(make, name):
    model = make(log_bilinear_model().pair_counts)
    w0 = (model.initial_params(np.random.default_rng(0), scale=1.0)
          if isinstance(model, LogBilinearBigram) else None)
    optimizer = REGISTRY[name].factory(lr=0.1)
    double = train_classifier(optimizer, model, 50, w0=w0, record_steps=[0, 50])
    single = train_classifier(optimizer, model, 50, w0=w0, record_steps=[0, 50],
                              dtype=np.float32)
    assert single.params.dtype == np.float32 and double.params.dtype == np.float64
    assert single.class_losses.dtype == np.float64                 # recorded in double
    np.testing.assert_allclose(single.class_losses, double.class_losses, atol=1e-5)
    batch = model.draw_batch(np.random.default_rng(1), 4)
    assert model.gradient(single.params, batch, check=False).dtype == np.float32
    with pytest.raises(ValueError, match="dtype"):
        train_classifier(optimizer, model, 5, dtype=np.float16)


def test_single_precision_is_refused_where_it_is_not_supported(small_teacher):
    with pytest.raises(ValueError, match="LinearSoftmax"):
        train_classifier(sgd(lr=0.1), small_teacher.model, 5, dtype=np.float32)
