"""The extracted subnet as a self-contained StableHLO artifact (jax.export).

The exported function takes float32 images with pixel values in 0..255, shape
[batch, H, W, C] with a symbolic batch, normalises them inside, and returns the logits
of the optimal depth's head. Reading it back needs only jax (`jax.export.deserialize`): see launch/predict.py.
"""

import os

import jax
import jax.numpy as jnp
import numpy as np

from odn_jax import trainer


def export_subnet(config, variables: dict, info: dict) -> jax.export.Exported:
  model = trainer.build_model(config, info['num_classes'])
  depth = info['depth']
  mean = jnp.asarray(info['mean'], jnp.float32)
  std = jnp.asarray(info['std'], jnp.float32)
  params, state = variables['params'], variables['state']

  def predict(images):
    x = (images / 255.0 - mean) / std
    logits, _ = model.apply(params, state, x, depth, train=False)
    return logits

  (batch,) = jax.export.symbolic_shape('batch')
  spec = jax.ShapeDtypeStruct((batch, *info['input_shape']), jnp.float32)
  return jax.export.export(jax.jit(predict))(spec)


def save(exported: jax.export.Exported, path: str) -> int:
  """Writes the serialised artifact; returns its size in bytes."""
  blob = exported.serialize()
  with open(path + '.tmp', 'wb') as f:
    f.write(blob)
  os.replace(path + '.tmp', path)
  return len(blob)
