"""Early-exit inference with the extracted subnet's heads: an example leaves at the first
head whose confidence (largest softmax probability) exceeds a threshold.

Threshold 1.0 never exits early (the last head decides); threshold 0 exits at head 1.
`sweep` trades accuracy for compute over thresholds; `per_head` gives the static points
(every example through head d) the curve is compared with. Both read the outputs of
`evaluation.head_outputs`: per example and head, the prediction and its confidence.
"""

import numpy as np


def exit_heads(confidence: np.ndarray, threshold: float) -> np.ndarray:
  """Index (0-based) of the head each example leaves at, from `confidence` [N, heads]."""
  confident = confidence > threshold
  confident[:, -1] = True  # the last head always answers
  return confident.argmax(axis=1)


# Finer near 1, where confident heads start to disagree.
DEFAULT_THRESHOLDS = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99, 0.999, 1.0)


def _check(outputs, flops_per_depth):
  if len(outputs.heads) != len(flops_per_depth):
    raise ValueError(f'{len(outputs.heads)} heads but FLOPs for {len(flops_per_depth)} depths: '
                     'early exit needs every head 1..depth (a subnet extracted with all its heads)')


def at_threshold(outputs, threshold: float, flops_per_depth) -> dict:
  """Accuracy (percent) and mean FLOPs per example at one threshold.

  An example leaving at head d costs the forward pass to depth d (`flops_per_depth[d-1]`);
  the earlier heads it consulted add a pooled Dense each, under 0.1 % for these nets.
  """
  _check(outputs, flops_per_depth)
  heads = exit_heads(outputs.confidence, threshold)
  predictions = outputs.prediction[np.arange(len(heads)), heads]
  return {'threshold': float(threshold),
          # As HeadOutputs.accuracy counts: threshold 1 gives the last head's number exactly.
          'accuracy': 100.0 * np.count_nonzero(predictions == outputs.labels)
                      / max(len(outputs.labels), 1),
          'mean_flops': float(np.mean(np.asarray(flops_per_depth)[heads])),
          'exits_per_head': np.bincount(heads, minlength=len(outputs.heads)).tolist()}


def sweep(outputs, flops_per_depth, thresholds=DEFAULT_THRESHOLDS) -> list[dict]:
  """`at_threshold` at each threshold; mean FLOPs never decrease as the threshold grows."""
  return [at_threshold(outputs, t, flops_per_depth) for t in sorted(thresholds)]


def per_head(outputs, flops_per_depth) -> list[dict]:
  """Accuracy and FLOPs of each head alone: what a fixed shallower depth would give."""
  _check(outputs, flops_per_depth)
  return [{'depth': d, 'accuracy': accuracy, 'flops': float(f)}
          for d, accuracy, f in zip(outputs.heads, outputs.accuracy, flops_per_depth)]
