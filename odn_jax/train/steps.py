"""The programs of a search: train step (active depth static), warm-up step, eval step.

Each step is a pure function of explicit pytrees. `make_steps(model, tx)` closes over the
network description and the optimizer, so `depth` is the only static argument left:
growing the network compiles one new program and reuses everything else. The eval step
runs `models.predict_heads`, the one program every evaluation shares.
"""

import functools
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import ml_collections
import optax
from flax import struct

from odn_jax.models import BN_MOMENTUM, heads_held, partition, predict_heads


class TrainState(struct.PyTreeNode):
  """What one optimizer trains: a parameter tree, its BatchNorm statistics, the optimizer
  state."""
  params: Any
  batch_stats: Any
  opt_state: Any


def _sgd(learning_rate, momentum, weight_decay):
  # The reference's torch SGD: decay added to the gradient before momentum.
  return optax.chain(optax.add_decayed_weights(weight_decay),
                     optax.sgd(learning_rate, momentum=momentum))


def make_optimizer(optim: ml_collections.ConfigDict) -> optax.GradientTransformation:
  """SGD whose learning rate lives in the optimizer state, set by the caller every step."""
  return optax.inject_hyperparams(_sgd, static_args=('momentum', 'weight_decay'))(
      learning_rate=0.0, momentum=optim.momentum, weight_decay=optim.weight_decay)


def create_train_state(tx: optax.GradientTransformation, params, batch_stats) -> TrainState:
  """A state that owns its arrays: the steps donate it, and `params` may be shared."""
  params, batch_stats = jax.tree.map(jnp.copy, (params, batch_stats))
  return TrainState(params=params, batch_stats=batch_stats, opt_state=tx.init(params))


def cross_entropy(logits, labels):
  return optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()


def zero_metrics(num_heads: int = 1) -> dict:
  """Per-epoch sums kept on the device: no host sync until the epoch ends."""
  return {'loss': jnp.zeros(()), 'correct': jnp.zeros((num_heads,)), 'count': jnp.zeros(())}


class Steps(NamedTuple):
  train: Any  # (ts, metrics, batch, learning_rate, *, depth) -> (ts, metrics)
  warmup: Any  # (ts, metrics, batch, learning_rate, *, depth, one_pass) -> (ts, metrics)
  heads: Any  # (ts, metrics, batch, learning_rate, *, trunk, depth) -> (ts, metrics)
  eval: Any  # (params, state, batch, *, depth) -> {'correct': [heads], 'count': []}
  batch_stats: Any  # (params, state, batch, *, depth) -> BatchNorm statistics of the batch


def make_steps(model, tx: optax.GradientTransformation) -> Steps:
  """The jitted steps of `model` trained by `tx`."""

  def depth_loss(params, state, batch, depth):
    logits, new_state = model.apply(params, state, batch['image'], depth, train=True)
    loss = cross_entropy(logits, batch['label'])
    return loss, (new_state, (logits.argmax(-1) == batch['label'])[None])

  def per_depth_loss(params, state, batch, depth):
    # The reference's warm-up: a separate forward pass per depth, losses summed. Same
    # gradient as `all_heads_loss` (tested), at about the square of the depth in cost;
    # BatchNorm statistics are taken from the deepest pass.
    losses, hits = [], []
    for d in range(1, depth + 1):
      loss, (state_d, hit) = depth_loss(params, state, batch, d)
      losses.append(loss)
      hits.append(hit[0])
    return sum(losses), (state_d, jnp.stack(hits))

  def all_heads_loss(params, state, batch, depth):
    # One pass through blocks 1..depth, every head reading its own block: the sum of the
    # per-depth losses, with the gradient of the reference's pass-per-depth loop.
    all_logits, new_state = model.apply_all_heads(params, state, batch['image'], depth,
                                                  train=True)
    loss = sum(cross_entropy(logits, batch['label']) for logits in all_logits)
    hits = jnp.stack([logits.argmax(-1) == batch['label'] for logits in all_logits])
    return loss, (new_state, hits)

  def update(ts, metrics, loss_fn, learning_rate):
    (loss, (new_state, hits)), grads = jax.value_and_grad(loss_fn, has_aux=True)(ts.params)
    hyperparams = {**ts.opt_state.hyperparams,
                   'learning_rate': jnp.asarray(learning_rate, jnp.float32)}
    opt_state = ts.opt_state._replace(hyperparams=hyperparams)
    updates, opt_state = tx.update(grads, opt_state, ts.params)
    ts = TrainState(optax.apply_updates(ts.params, updates), new_state, opt_state)
    metrics = {'loss': metrics['loss'] + loss * hits.shape[1],
               'correct': metrics['correct'] + hits.sum(axis=1),
               'count': metrics['count'] + hits.shape[1]}
    return ts, metrics

  @functools.partial(jax.jit, static_argnames='depth', donate_argnums=(0, 1))
  def train_step(ts, metrics, batch, learning_rate, *, depth):
    loss_fn = lambda p: depth_loss(p, ts.batch_stats, batch, depth)
    return update(ts, metrics, loss_fn, learning_rate)

  @functools.partial(jax.jit, static_argnames=('depth', 'one_pass'), donate_argnums=(0, 1))
  def warmup_step(ts, metrics, batch, learning_rate, *, depth, one_pass=True):
    loss_fn = all_heads_loss if one_pass else per_depth_loss
    return update(ts, metrics, lambda p: loss_fn(p, ts.batch_stats, batch, depth),
                  learning_rate)

  @functools.partial(jax.jit, static_argnames='depth', donate_argnums=(0, 1))
  def heads_step(ts, metrics, batch, learning_rate, *, trunk, depth):
    """Trains the heads `ts` holds on the frozen `trunk` ({'params', 'state'}): its blocks
    run as at inference, so each head learns the features it will read when deployed."""
    outputs, _ = model.features(trunk['params'], trunk['state'], batch['image'], depth,
                                train=False)

    def loss_fn(head_params):
      logits = [model.head(head_params, d, outputs[d - 1])
                for d in heads_held(head_params, depth)]
      loss = sum(cross_entropy(l, batch['label']) for l in logits)
      return loss, (ts.batch_stats, jnp.stack([l.argmax(-1) == batch['label'] for l in logits]))

    return update(ts, metrics, loss_fn, learning_rate)

  def eval_step(params, state, batch, *, depth):
    """Correct counts of every head up to `depth` that `params` holds (the last is `depth`).

    The counts stay on the device: summing them over a split waits for nothing."""
    out = predict_heads(params, state, batch['image'], model=model, depth=depth)
    mask = batch['mask']
    return {'correct': ((out['prediction'] == batch['label']) * mask).sum(axis=1),
            'count': mask.sum()}

  @functools.partial(jax.jit, static_argnames='depth')
  def batch_stats(params, state, batch, *, depth):
    """Mean and variance of `batch` alone at every BatchNorm of blocks 1..depth."""
    # Training mode never reads the running averages, so from zeros one update leaves
    # (1 - momentum) * the batch's own statistics.
    zeros = jax.tree.map(jnp.zeros_like, state)
    _, new_state = model.features(params, zeros, batch['image'], depth, train=True)
    return jax.tree.map(lambda s: s / (1.0 - BN_MOMENTUM), partition.prefix(new_state, depth))

  return Steps(train_step, warmup_step, heads_step, eval_step, batch_stats)
