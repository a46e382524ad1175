"""Depth-partitioned ResNets."""

from odn_jax.models.resnet import (ARCHS, BN_MOMENTUM, BlockSpec, ResNet, block_key, head_key,
                                   num_blocks)

__all__ = ['ARCHS', 'BN_MOMENTUM', 'BlockSpec', 'ResNet', 'block_key', 'head_key', 'num_blocks']
