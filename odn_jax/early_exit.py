"""Early-exit inference with the extracted subnet's heads: an example leaves at the first
head whose confidence (largest softmax probability) exceeds a threshold.

Threshold 1.0 never exits early (the last head decides); threshold 0 exits at head 1.
`sweep` trades accuracy for compute over thresholds; `per_head` gives the static points
(every example through head d) the curve is compared with.
"""

import functools

import jax
import numpy as np

from odn_jax.models import head_key


def head_probabilities(model, variables: dict, batches, depth: int):
  """(probabilities [heads, N, classes], labels [N]) of every head up to `depth`."""

  @functools.partial(jax.jit, static_argnames='depth')
  def probabilities(params, state, images, depth):
    outputs, _ = model.features(params, state, images, depth, train=False)
    return [jax.nn.softmax(model.head(params, d, y)) for d, y in enumerate(outputs, 1)
            if head_key(d) in params]

  probs, labels = [], []
  for batch in batches:
    keep = np.asarray(batch['mask']) > 0
    out = probabilities(variables['params'], variables['state'], batch['image'], depth)
    probs.append(np.stack([np.asarray(p)[keep] for p in out]))
    labels.append(np.asarray(batch['label'])[keep])
  return np.concatenate(probs, axis=1), np.concatenate(labels)


def exit_heads(probs: np.ndarray, threshold: float) -> np.ndarray:
  """Index (0-based) of the head each example leaves at."""
  confident = probs.max(axis=-1) > threshold  # [heads, N]
  confident[-1] = True  # the last head always answers
  return confident.argmax(axis=0)


# Finer near 1, where confident heads start to disagree.
DEFAULT_THRESHOLDS = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99, 0.999, 1.0)


def _check(probs, flops_per_depth):
  if len(probs) != len(flops_per_depth):
    raise ValueError(f'{len(probs)} heads but FLOPs for {len(flops_per_depth)} depths: early '
                     'exit needs every head 1..depth (a subnet extracted with all its heads)')


def evaluate(probs, labels, threshold: float, flops_per_depth) -> dict:
  """Accuracy (percent) and mean FLOPs per example at one threshold.

  An example leaving at head d costs the forward pass to depth d (`flops_per_depth[d-1]`);
  the earlier heads it consulted add a pooled Dense each, under 0.1 % for these nets.
  """
  _check(probs, flops_per_depth)
  heads = exit_heads(probs, threshold)
  predictions = probs[heads, np.arange(len(labels))].argmax(-1)
  return {'threshold': float(threshold),
          'accuracy': float(100.0 * np.mean(predictions == labels)),
          'mean_flops': float(np.mean(np.asarray(flops_per_depth)[heads])),
          'exits_per_head': np.bincount(heads, minlength=len(probs)).tolist()}


def sweep(probs, labels, flops_per_depth, thresholds=DEFAULT_THRESHOLDS) -> list[dict]:
  """`evaluate` at each threshold; mean FLOPs never decrease as the threshold grows."""
  return [evaluate(probs, labels, t, flops_per_depth) for t in sorted(thresholds)]


def per_head(probs, labels, flops_per_depth) -> list[dict]:
  """Accuracy and FLOPs of each head alone: what a fixed shallower depth would give."""
  _check(probs, flops_per_depth)
  return [{'depth': d, 'accuracy': float(100.0 * np.mean(p.argmax(-1) == labels)),
           'flops': float(f)} for d, (p, f) in enumerate(zip(probs, flops_per_depth), 1)]
