"""Depth-partitioned ResNets, and the one way to build one.

  model = models.build('resnet18', num_classes=10, width=64, dtype='bfloat16')
  model = models.from_config(config, num_classes)   # a run's network, config.half_precision
  model = models.from_info(info)                    # the network an optimal/model.json describes
"""

import dataclasses
from typing import Any

import jax.numpy as jnp

from odn_jax.models.inference import heads_held, predict_heads
from odn_jax.models.resnet import (ARCHS, BN_MOMENTUM, BlockSpec, ResNet, block_key, head_key,
                                   num_blocks)


def build(arch: str, num_classes: int, width: int = 64, dtype: Any = 'float32') -> ResNet:
  """A ResNet computing in `dtype` (parameters stay float32)."""
  return ResNet(arch, num_classes, width, jnp.dtype(dtype))


def compute_dtype(config) -> str:
  return 'bfloat16' if config.half_precision else 'float32'


def from_config(config, num_classes: int) -> ResNet:
  """The network a run of `config` trains and measures."""
  return build(config.model.arch, num_classes, config.model.width, compute_dtype(config))


def spec(model: ResNet) -> dict:
  """What `from_info` rebuilds `model` from (JSON values)."""
  return {'arch': model.arch, 'width': model.width, 'num_classes': model.num_classes,
          'dtype': model.dtype.name}


def from_info(info) -> ResNet:
  """The network an optimal/model.json describes (its `odn_jax.run.records.ModelInfo`, or
  `spec`'s JSON), computing in the dtype the run used."""
  spec = info if isinstance(info, dict) else dataclasses.asdict(info)
  return build(spec['arch'], spec['num_classes'], spec['width'], spec.get('dtype', 'float32'))


__all__ = ['ARCHS', 'BN_MOMENTUM', 'BlockSpec', 'ResNet', 'block_key', 'build', 'compute_dtype',
           'from_config', 'from_info', 'head_key', 'heads_held', 'num_blocks', 'predict_heads',
           'spec']
