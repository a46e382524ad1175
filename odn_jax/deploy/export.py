"""The extracted subnet as a self-contained StableHLO artifact (jax.export).

The exported function takes float32 images with pixel values in 0..255 (uint8 images
cast to float32), shape [batch, H, W, C] with a symbolic batch, normalises them inside
exactly as the training pipeline does, and returns the logits of the optimal depth's
head, computed in the dtype the run computed in. The weights are constants inside the
artifact: reading it back needs only `jax.export.deserialize`, no odn_jax and no
checkpoint (`odn_jax.deploy.artifact` saves, loads and runs it). It is lowered for CPU, CUDA
and TPU at once (about 1 KB more than CPU alone), so the same file runs on any of them.
"""

from typing import Sequence

import jax
import jax.numpy as jnp
import numpy as np

from odn_jax import models
from odn_jax.errors import FlagError

PLATFORMS = ('cpu', 'cuda', 'tpu')
KNOWN_PLATFORMS = ('cpu', 'cuda', 'rocm', 'tpu')


def export_subnet(variables: dict, info: dict,
                  platforms: Sequence[str] | None = PLATFORMS) -> jax.export.Exported:
  """The forward pass of the subnet `info` (its optimal/model.json) describes, at head
  `info['depth']`; `platforms=None` lowers for the platform this process runs on only."""
  unknown = set(platforms or ()) - set(KNOWN_PLATFORMS)
  if unknown:
    raise FlagError(f'unknown platforms {sorted(unknown)}; choose from {KNOWN_PLATFORMS}')
  model = models.from_info(info)
  depth = info['depth']
  mean = np.asarray(info['mean'], np.float32)
  std = np.asarray(info['std'], np.float32)
  params, state = variables['params'], variables['state']

  def forward(images):
    # The same arithmetic as odn_jax.data.pipeline.normalize.
    x = (images * np.float32(1 / 255) - mean) / std
    logits, _ = model.apply(params, state, x, depth, train=False)
    return logits

  (batch,) = jax.export.symbolic_shape('batch')
  spec = jax.ShapeDtypeStruct((batch, *info['input_shape']), jnp.float32)
  return jax.export.export(jax.jit(forward), platforms=platforms)(spec)
