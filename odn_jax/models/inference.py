"""The one forward pass over every head a set of weights holds.

Validation during training, the end-of-run test pass with early exits and
`launch/evaluate.py` all run this one jitted program: it is compiled once per
(network, depth, heads held, input shape) and reused by all of them.
"""

import functools

import jax
import jax.numpy as jnp

from odn_jax.models.resnet import ResNet, head_key


def heads_held(params: dict, depth: int) -> list[int]:
  """Depths 1..`depth` whose head is in `params` (a subnet may hold only its last)."""
  return [d for d in range(1, depth + 1) if head_key(d) in params]


@functools.partial(jax.jit, static_argnames=('model', 'depth'))
def predict_heads(params, state, images, *, model: ResNet, depth: int) -> dict:
  """Inference through blocks 1..`depth`, every head `params` hold reading its block.

  Returns {'prediction': int32 [heads, batch], 'confidence': float32 [heads, batch]},
  one row per depth of `heads_held(params, depth)`; confidence is the largest softmax
  probability, all an early exit needs.
  """
  outputs, _ = model.features(params, state, images, depth, train=False)
  logits = jnp.stack([model.head(params, d, outputs[d - 1]) for d in heads_held(params, depth)])
  return {'prediction': logits.argmax(-1).astype(jnp.int32),
          'confidence': jax.nn.softmax(logits).max(-1)}
