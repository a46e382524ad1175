"""Measured inference speed: images/s of the forward pass at a depth, on the machine at hand.

Counted sizes (odn_jax.models.size) say how much smaller a subnet is; this says how much faster it
runs here. Each (depth, batch size) is jitted and warmed up, then timed `runs` times up to
`block_until_ready`; the median is reported. The weights are a fresh initialisation: the
time of a forward pass does not depend on their values.
"""

import functools
import time
from typing import Sequence

import jax
import jax.numpy as jnp
import numpy as np

from odn_jax.models import partition, ResNet

BATCH_SIZES = (1, 256)
RUNS = 5


def key(batch_size: int) -> str:
  """The row key of images/s at `batch_size`."""
  return f'images_per_s_batch_{batch_size}'


def images_per_second(forward, variables, images, runs: int = RUNS) -> float:
  """Median images/s of `forward(variables, images)` over `runs` timed calls."""
  if runs < 1:
    raise ValueError(f'runs must be >= 1, got {runs}')
  for _ in range(2):  # compiles, then one untimed call: the first runs pay for allocation
    jax.block_until_ready(forward(variables, images))
  seconds = []
  for _ in range(runs):
    start = time.perf_counter()
    jax.block_until_ready(forward(variables, images))
    seconds.append(time.perf_counter() - start)
  return len(images) / max(float(np.median(seconds)), 1e-9)


def throughput(model: ResNet, input_shape: Sequence[int], depths: Sequence[int],
               batch_sizes: Sequence[int] = BATCH_SIZES, runs: int = RUNS) -> list[dict]:
  """One row per depth: {'depth', 'images_per_s_batch_B' for each B in `batch_sizes`}."""
  if not batch_sizes or min(batch_sizes) < 1:
    raise ValueError(f'batch sizes must be >= 1, got {list(batch_sizes)}')
  input_shape = tuple(int(n) for n in input_shape)
  params, state = model.init(jax.random.key(0), input_shape)
  rows = []
  for depth in depths:
    model.check_depth(depth)
    variables = {'params': partition.prefix(params, depth),
                 'state': partition.prefix(state, depth)}
    forward = jax.jit(functools.partial(_forward, model, depth=depth))
    row = {'depth': int(depth)}
    for batch_size in batch_sizes:
      images = jnp.zeros((batch_size, *input_shape), jnp.float32)
      row[key(batch_size)] = round(images_per_second(forward, variables, images, runs), 1)
    rows.append(row)
  return rows


def _forward(model, variables, images, depth):
  logits, _ = model.apply(variables['params'], variables['state'], images, depth, train=False)
  return logits


def subnet_against_full(model: ResNet, input_shape: Sequence[int], depth: int,
                        batch_sizes: Sequence[int] = BATCH_SIZES, runs: int = RUNS) -> dict:
  """images/s of the subnet of `depth` and of the full network, and where they were measured."""
  full = model.max_depth
  rows = {r['depth']: r for r in throughput(model, input_shape, sorted({depth, full}),
                                            batch_sizes, runs)}
  device = jax.devices()[0]
  kind = '' if device.device_kind == device.platform else f' ({device.device_kind})'
  return {'device': device.platform + kind, 'runs': runs,
          'batch_sizes': list(batch_sizes), 'optimal': rows[depth], 'full': rows[full],
          'speedup': {key(b): round(rows[depth][key(b)] / rows[full][key(b)], 2)
                      for b in batch_sizes}}
