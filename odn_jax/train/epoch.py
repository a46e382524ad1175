"""One pass over data: a training epoch, or an evaluation of every head up to a depth."""

import jax
import numpy as np
from tqdm import auto as tqdm

from odn_jax.run import parallel


def train_epoch(step, ts, metrics, batches, learning_rates, total: int, desc: str = '',
                quiet: bool = False, stop=lambda: False):
  """Runs `step` over `batches` until they end or `stop()`; returns (ts, metrics, steps done).

  Metrics stay on the device: nothing here waits for a step to finish.
  """
  # A bar on a terminal or in a notebook (tqdm.auto; disable=None: none in a log file);
  # logs get the trainer's one line per epoch.
  bar = tqdm.tqdm(total=total, desc=desc, leave=False, dynamic_ncols=True,
                  disable=True if quiet else None)
  done = 0
  for batch, learning_rate in zip(batches, learning_rates):
    if stop():
      break
    ts, metrics = step(ts, metrics, batch, learning_rate)
    done += 1
    bar.update()
  bar.close()
  return ts, metrics, done


def summarize(metrics) -> dict:
  """Mean loss and per-head accuracy of an epoch: its one host sync."""
  metrics = parallel.to_host(metrics)  # on every host of a multi-host run
  count = max(float(metrics['count']), 1.0)
  return {'loss': float(metrics['loss']) / count,
          'accuracy': (100.0 * metrics['correct'].astype(np.float64) / count).tolist()}


def evaluate(eval_step, params, state, batches, depth: int) -> np.ndarray:
  """Accuracy (percent) of heads 1..depth over `batches` (padded, with a 'mask')."""
  correct, count = None, None
  for batch in batches:
    out = eval_step(params, state, batch, depth=depth)
    correct = out['correct'] if correct is None else correct + out['correct']
    count = out['count'] if count is None else count + out['count']
  if count is None:
    raise ValueError('evaluation split is empty')
  # Counts are exact integers in float32; the division is done in float64 everywhere.
  correct, count = parallel.to_host((correct, count))
  return 100.0 * correct.astype(np.float64) / max(float(count), 1.0)


def precise_batch_stats(batch_stats_step, params, state, batches, depth: int):
  """BatchNorm statistics averaged over `batches`, to evaluate with in place of `state`.

  The running averages trail weights that moved during the epoch; at a high learning rate
  on a small split that alone swings validation accuracy by tens of points between epochs.
  """
  total, count = None, 0
  for batch in batches:
    stats = batch_stats_step(params, state, batch, depth=depth)
    total = stats if total is None else jax.tree.map(lambda a, b: a + b, total, stats)
    count += 1
  if total is None:
    return state
  return {**state, **jax.tree.map(lambda t: t / count, total)}
