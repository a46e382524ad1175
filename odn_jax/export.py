"""The extracted subnet as a self-contained StableHLO artifact (jax.export).

The exported function takes float32 images with pixel values in 0..255 (uint8 images
cast to float32), shape [batch, H, W, C] with a symbolic batch, normalises them inside
exactly as the training pipeline does, and returns the logits of the optimal depth's
head. The weights are constants inside the artifact: reading it back needs only
`jax.export.deserialize`, no odn_jax and no checkpoint. It is lowered for CPU, CUDA
and TPU at once (about 1 KB more than CPU alone), so the same file runs on any of them.

This module imports the model code only inside `export_subnet`: `load` and `predict`
are what a deployment needs.
"""

import os
from typing import Sequence

import jax
import jax.numpy as jnp
import numpy as np

PLATFORMS = ('cpu', 'cuda', 'tpu')
KNOWN_PLATFORMS = ('cpu', 'cuda', 'rocm', 'tpu')


def export_subnet(config, variables: dict, info: dict,
                  platforms: Sequence[str] | None = PLATFORMS) -> jax.export.Exported:
  """The forward pass of the subnet at head `info['depth']`; `platforms=None` lowers
  for the platform this process runs on only."""
  unknown = set(platforms or ()) - set(KNOWN_PLATFORMS)
  if unknown:
    raise ValueError(f'unknown platforms {sorted(unknown)}; choose from {KNOWN_PLATFORMS}')
  from odn_jax import trainer  # pylint: disable=g-import-not-at-top
  model = trainer.build_model(config, info['num_classes'])
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


def save(exported: jax.export.Exported, path: str) -> int:
  """Writes the serialised artifact (all or nothing); returns its size in bytes."""
  blob = exported.serialize()
  with open(path + '.tmp', 'wb') as f:
    f.write(blob)
  os.replace(path + '.tmp', path)
  return len(blob)


def load(path: str) -> jax.export.Exported:
  if not os.path.isfile(path):
    raise FileNotFoundError(f'{path} does not exist; write it with launch/export.py')
  with open(path, 'rb') as f:
    return jax.export.deserialize(bytearray(f.read()))


def predict(exported: jax.export.Exported, images: np.ndarray) -> np.ndarray:
  """Logits for uint8 (or 0..255 float) images [N, H, W, C]."""
  return np.asarray(exported.call(jnp.asarray(images, jnp.float32)))
