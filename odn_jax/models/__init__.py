"""Depth-partitioned ResNets."""

from odn_jax.models.resnet import ARCHS, BlockSpec, ResNet, block_key, head_key, num_blocks

__all__ = ['ARCHS', 'BlockSpec', 'ResNet', 'block_key', 'head_key', 'num_blocks']
