"""The jitted steps and growth: gradients, locality of the train step, identity growth."""

import functools

import chex
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest

from odn_jax import models
from odn_jax.config import defaults
from odn_jax.models import block_key, head_key, partition, ResNet
from odn_jax.results import evaluation
from odn_jax.run import compilation
from odn_jax.search import growth
from odn_jax.train import epoch as epoch_lib, steps as steps_lib

MODEL = ResNet('resnet18', num_classes=5, width=4)
SHAPE = (8, 8, 1)


@pytest.fixture(scope='module')
def setup():
  params, state = MODEL.init(jax.random.key(0), SHAPE)
  tx = steps_lib.make_optimizer(defaults.base_config().optim)
  steps = steps_lib.make_steps(MODEL, tx)
  rng = np.random.default_rng(0)
  batch = {'image': jnp.asarray(rng.normal(size=(6, *SHAPE)), jnp.float32),
           'label': jnp.asarray(rng.integers(0, 5, size=6), jnp.int32),
           'mask': jnp.ones(6)}
  return params, state, tx, steps, batch


def test_warmup_gradient_equals_sum_of_per_depth_gradients(setup):
  params, state, _, _, batch = setup
  image, label = batch['image'], batch['label']

  def one_pass(p):  # every head reading its block, as the warm-up step computes it
    logits, _ = MODEL.apply_all_heads(p, state, image, MODEL.max_depth, train=True)
    return sum(steps_lib.cross_entropy(l, label) for l in logits)

  def at_depth(p, depth):  # one forward pass of its own per depth (the reference)
    return steps_lib.cross_entropy(MODEL.apply(p, state, image, depth, train=True)[0], label)

  per_depth = [jax.grad(at_depth)(params, d) for d in range(1, MODEL.max_depth + 1)]
  summed = jax.tree.map(lambda *g: sum(g), *per_depth)
  chex.assert_trees_all_close(jax.grad(one_pass)(params), summed, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize('depth', [1, 4])
def test_train_step_leaves_deeper_blocks_bit_identical(setup, depth):
  # The step is given the whole tree: whatever lies past `depth` (blocks, their BatchNorm
  # statistics, the other heads) must come back unchanged. Without weight decay a piece
  # the step never reads gets a zero update; reading it, or updating its statistics, shows.
  params, state, _, _, batch = setup
  tx = steps_lib.make_optimizer(ml_collections.ConfigDict({'momentum': 0.9, 'weight_decay': 0.0}))
  steps = steps_lib.make_steps(MODEL, tx)
  before = jax.tree.map(np.array, {'params': params, 'state': state})
  ts = steps_lib.create_train_state(tx, params, state)
  for _ in range(2):
    ts, _ = steps.train(ts, steps_lib.zero_metrics(), batch, 0.1, depth=depth)
  trained = set(partition.prefix_keys(depth))
  for key in set(params) - trained:
    chex.assert_trees_all_equal(ts.params[key], before['params'][key])
    if key in state:
      chex.assert_trees_all_equal(ts.batch_stats[key], before['state'][key])
  for key in trained:  # and every piece it trains has moved
    assert any(not np.array_equal(a, b) for a, b in zip(jax.tree.leaves(ts.params[key]),
                                                        jax.tree.leaves(before['params'][key])))


def test_train_step_accumulates_metrics(setup):
  params, state, tx, steps, batch = setup
  ts = steps_lib.create_train_state(tx, partition.prefix(params, 1), partition.prefix(state, 1))
  ts, metrics = steps.train(ts, steps_lib.zero_metrics(), batch, 0.0, depth=1)
  _, metrics = steps.train(ts, metrics, batch, 0.0, depth=1)
  # lr 0: both steps see the same weights, and training mode normalises with the batch's
  # own statistics, so both score exactly what this forward pass scores.
  logits, _ = MODEL.apply(params, state, batch['image'], 1, train=True)
  hits = int((logits.argmax(-1) == batch['label']).sum())
  assert float(metrics['count']) == 12
  assert float(metrics['correct'][0]) == 2 * hits
  np.testing.assert_allclose(float(metrics['loss']),
                             12 * float(steps_lib.cross_entropy(logits, batch['label'])),
                             rtol=1e-5)


def test_train_step_uses_the_given_learning_rate(setup):
  params, state, tx, steps, batch = setup
  start = lambda: steps_lib.create_train_state(tx, partition.prefix(params, 2),
                                               partition.prefix(state, 2))
  moved = {}
  for lr in (0.0, 0.05, 0.1):
    ts, _ = steps.train(start(), steps_lib.zero_metrics(), batch, lr, depth=2)
    moved[lr] = jax.tree.map(lambda a, b: a - b, ts.params, partition.prefix(params, 2))
  chex.assert_trees_all_equal(moved[0.0], jax.tree.map(jnp.zeros_like, moved[0.0]))
  # From zero momentum the first update is -lr * (gradient + weight decay * weights).
  loss = lambda p: steps_lib.cross_entropy(
      MODEL.apply(p, state, batch['image'], 2, train=True)[0], batch['label'])
  prefix = partition.prefix(params, 2)
  decay = defaults.base_config().optim.weight_decay
  expected = jax.tree.map(lambda g, p: -0.1 * (g + decay * p), jax.grad(loss)(prefix), prefix)
  chex.assert_trees_all_close(moved[0.1], expected, rtol=1e-3, atol=1e-6)
  chex.assert_trees_all_close(moved[0.1], jax.tree.map(lambda x: 2 * x, moved[0.05]),
                              rtol=1e-3, atol=1e-7)


def test_eval_step_counts_only_unmasked_examples(setup):
  params, state, _, steps, batch = setup
  masked = {**batch, 'mask': jnp.array([1, 1, 1, 0, 0, 0], jnp.float32)}
  out = steps.eval(params, state, masked, depth=3)
  chex.assert_shape(out['correct'], (3,))
  assert float(out['count']) == 3
  logits, _ = MODEL.apply(params, state, batch['image'][:3], 3)
  assert float(out['correct'][2]) == float((logits.argmax(-1) == batch['label'][:3]).sum())


@pytest.mark.parametrize('depth', [2, 5])
def test_precise_batch_stats_of_a_batch_make_evaluation_equal_training_mode(setup, depth):
  # With every BatchNorm holding the batch's own statistics, the inference forward
  # normalises exactly as the training forward does on that batch.
  params, state, _, steps, batch = setup
  precise = epoch_lib.precise_batch_stats(steps.batch_stats, params, state, [batch], depth)
  train_logits, _ = MODEL.apply(params, state, batch['image'], depth, train=True)
  eval_logits, _ = MODEL.apply(params, precise, batch['image'], depth, train=False)
  chex.assert_trees_all_close(eval_logits, train_logits, rtol=1e-4, atol=1e-4)
  # Blocks past `depth` keep their statistics; averaging two copies of a batch changes nothing.
  chex.assert_trees_all_equal(precise[block_key(depth + 1)], state[block_key(depth + 1)])
  twice = epoch_lib.precise_batch_stats(steps.batch_stats, params, state, [batch, batch], depth)
  chex.assert_trees_all_close(twice, precise, rtol=1e-6, atol=1e-7)


def test_identity_growth_preserves_the_function(setup):
  params, state, _, _, batch = setup
  # Make every piece non-trivial, as after training.
  params = jax.tree.map(lambda x: x + 0.1, params)
  variables = {'params': params, 'state': state}
  grown = growth.grown_variables(variables, variables, 2, 'identity')
  before, _ = MODEL.apply(params, state, batch['image'], 1)
  after, _ = MODEL.apply(grown['params'], grown['state'], batch['image'], 2)
  chex.assert_trees_all_close(after, before, rtol=1e-5, atol=1e-6)
  assert not np.allclose(MODEL.apply(params, state, batch['image'], 2)[0], before)


def test_other_growth_inits(setup):
  params, state, _, _, _ = setup
  trained = {'params': params, 'state': state}
  warm = {'params': jax.tree.map(jnp.zeros_like, params), 'state': state}
  assert growth.grown_variables(trained, warm, 3, 'trained') is trained
  assert growth.grown_variables(trained, warm, 3, 'warmup') is warm
  with pytest.raises(ValueError, match='grow.init'):
    growth.grown_variables(trained, warm, 3, 'zeros')


def test_warmup_step_one_pass_equals_the_pass_per_depth_loop(setup):
  params, state, tx, steps, batch = setup
  make = lambda: steps_lib.create_train_state(tx, params, state)
  results = [steps.warmup(make(), steps_lib.zero_metrics(MODEL.max_depth), batch, 0.1,
                          depth=MODEL.max_depth, one_pass=one_pass) for one_pass in (True, False)]
  (one_ts, one_metrics), (loop_ts, loop_metrics) = results
  chex.assert_trees_all_close(one_ts.params, loop_ts.params, rtol=1e-4, atol=1e-6)
  chex.assert_trees_all_close(one_metrics, loop_metrics, rtol=1e-5)


def test_compile_clock_counts_a_program_once():
  program = jax.jit(lambda x: jnp.sin(x) @ x.T + 3.0)
  before = compilation.seconds()
  program(jnp.ones((7, 3))).block_until_ready()
  compiled = compilation.seconds()
  assert compiled > before
  program(jnp.ones((7, 3))).block_until_ready()
  assert compilation.seconds() == compiled


def test_training_epoch_never_waits_for_the_device(setup):
  params, state, tx, steps, batch = setup
  ts = steps_lib.create_train_state(tx, partition.prefix(params, 2), partition.prefix(state, 2))
  step = functools.partial(steps.train, depth=2)
  ts, metrics = step(ts, steps_lib.zero_metrics(), batch, 0.1)  # compiled outside the guard
  with jax.transfer_guard_device_to_host('disallow'):
    ts, metrics, done = epoch_lib.train_epoch(step, ts, metrics, [batch] * 5, [0.1] * 5,
                                              total=5, quiet=True)
  assert done == 5
  summary = epoch_lib.summarize(metrics)  # the epoch's one host read
  count, correct = float(metrics['count']), float(metrics['correct'][0])
  assert count == 36  # six steps of six examples
  assert summary['accuracy'] == [100.0 * correct / 36]
  assert summary['loss'] == pytest.approx(float(metrics['loss']) / 36)


def test_half_precision_computes_in_bfloat16_and_keeps_float32_parameters(setup):
  params, state, tx, _, batch = setup
  half = ResNet('resnet18', num_classes=5, width=4, dtype=jnp.bfloat16)
  steps = steps_lib.make_steps(half, tx)
  logits, _ = half.apply(params, state, batch['image'], 3)
  reference, _ = MODEL.apply(params, state, batch['image'], 3)
  assert logits.dtype == jnp.float32
  chex.assert_trees_all_close(logits, reference, atol=0.1, rtol=0.1)
  ts = steps_lib.create_train_state(tx, partition.prefix(params, 3), partition.prefix(state, 3))
  ts, _ = steps.train(ts, steps_lib.zero_metrics(), batch, 0.1, depth=3)
  assert {x.dtype for x in jax.tree.leaves((ts.params, ts.batch_stats))} == {jnp.dtype(jnp.float32)}
  jaxpr = str(jax.make_jaxpr(lambda x: half.apply(params, state, x, 3))(batch['image']))
  assert 'bf16' in jaxpr and 'conv_general_dilated' in jaxpr


def test_validation_and_evaluation_run_one_program(setup):
  params, state, _, steps, batch = setup
  masked = {**batch, 'mask': jnp.array([1, 1, 1, 1, 0, 0], jnp.float32)}
  val = epoch_lib.evaluate(steps.eval, params, state, [masked, masked], 4)
  programs = models.predict_heads._cache_size()
  out = evaluation.head_outputs(MODEL, {'params': params, 'state': state}, [masked, masked], 4)
  assert models.predict_heads._cache_size() == programs  # validation's program, reused
  assert out.heads == [1, 2, 3, 4] and len(out.labels) == 8
  np.testing.assert_array_equal(val, out.accuracy)
  # A subnet holding only its last head runs that head alone.
  subnet = {k: partition.extract(v, 3) for k, v in (('params', params), ('state', state))}
  assert evaluation.head_outputs(MODEL, subnet, [masked], 3).heads == [3]


def test_heads_step_trains_the_early_exits_on_the_frozen_trunk(setup):
  # Heads 1..3 of a depth-4 trunk learn from the features the trunk computes at inference
  # (BatchNorm running averages); the trunk and head 4 are not part of what it trains.
  params, state, tx, steps, batch = setup
  trunk = {'params': partition.prefix(params, 4), 'state': partition.prefix(state, 4)}
  exits = {head_key(d): params[head_key(d)] for d in (1, 2, 3)}
  ts = steps_lib.create_train_state(tx, exits, {})
  ts, metrics = steps.heads(ts, steps_lib.zero_metrics(3), batch, 0.1, trunk=trunk, depth=4)
  assert set(ts.params) == set(exits)
  outputs, _ = MODEL.features(params, state, batch['image'], 4, train=False)
  loss = lambda p: sum(steps_lib.cross_entropy(MODEL.head(p, d, outputs[d - 1]), batch['label'])
                       for d in (1, 2, 3))
  decay = defaults.base_config().optim.weight_decay
  expected = jax.tree.map(lambda p, g: p - 0.1 * (g + decay * p), exits, jax.grad(loss)(exits))
  chex.assert_trees_all_close(ts.params, expected, rtol=1e-4, atol=1e-6)
  assert float(metrics['count']) == 6 and metrics['correct'].shape == (3,)
