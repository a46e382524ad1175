"""Data parallelism with JAX's own sharding: one mesh axis 'data' over every device.

The global batch is split along its first axis, parameters and optimizer state are
replicated, and the jitted steps are unchanged: XLA inserts the all-reduces, so
BatchNorm statistics and gradients are those of the global batch. One device is the
same code path with a mesh of one.
"""

import jax
import numpy as np
from jax.sharding import NamedSharding, PartitionSpec as P

from odn_jax.errors import ConfigError


def initialize(distributed: bool):
  """Joins the other hosts (TPU pods, multi-node GPU) before any device is touched."""
  if distributed:
    jax.distributed.initialize()


def make_mesh() -> jax.sharding.Mesh:
  # Auto axes: XLA propagates the batch sharding through the unchanged step code.
  return jax.make_mesh((jax.device_count(),), ('data',),
                       axis_types=(jax.sharding.AxisType.Auto,))


def check_batch_sizes(config):
  devices = jax.device_count()
  for key in ('batch_size', 'eval_batch_size'):
    if config[key] % devices:
      raise ConfigError(f'config.{key}={config[key]} does not divide evenly over {devices} '
                       f'devices; use a multiple of {devices}')


def replicate(tree, mesh):
  return jax.device_put(tree, NamedSharding(mesh, P()))


def shard_batch(batch: dict, mesh) -> dict:
  """This host's part of the global batch -> one global array sharded along 'data'."""
  sharding = NamedSharding(mesh, P('data'))
  return {k: jax.make_array_from_process_local_data(sharding, np.asarray(v))
          for k, v in batch.items()}
