"""One pass over data: a training epoch, or an evaluation of every head up to a depth."""

import numpy as np
import tqdm


def train_epoch(step, ts, metrics, batches, learning_rates, total: int, desc: str = '',
                quiet: bool = False):
  """Runs `step` over `batches`; metrics stay on the device until the epoch ends."""
  # A bar only on a terminal (disable=None); logs get the trainer's one line per epoch.
  bar = tqdm.tqdm(batches, desc=desc, total=total, leave=False, dynamic_ncols=True,
                  disable=True if quiet else None)
  for batch, learning_rate in zip(bar, learning_rates):
    ts, metrics = step(ts, metrics, batch, learning_rate)
  bar.close()
  metrics = {k: np.asarray(v) for k, v in metrics.items()}  # the epoch's one host sync
  count = max(float(metrics['count']), 1.0)
  return ts, {'loss': float(metrics['loss']) / count,
              'accuracy': (100.0 * metrics['correct'] / count).tolist()}


def evaluate(eval_step, params, state, batches, depth: int) -> np.ndarray:
  """Accuracy (percent) of heads 1..depth over `batches` (padded, with a 'mask')."""
  correct, count = None, None
  for batch in batches:
    out = eval_step(params, state, batch, depth=depth)
    correct = out['correct'] if correct is None else correct + out['correct']
    count = out['count'] if count is None else count + out['count']
  if count is None:
    raise ValueError('evaluation split is empty')
  return 100.0 * np.asarray(correct) / max(float(count), 1.0)
