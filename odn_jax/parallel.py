"""Data parallelism with JAX's own sharding: one mesh axis 'data' over every device.

The global batch is split along its first axis, parameters and optimizer state are
replicated, and the jitted steps are unchanged: XLA inserts the all-reduces, so
BatchNorm statistics and gradients are those of the global batch. One device is the
same code path with a mesh of one.
"""

import jax
import numpy as np
from jax.experimental import multihost_utils
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
  """`tree` as global arrays, whole on every device of `mesh`."""
  sharding = NamedSharding(mesh, P())
  if jax.process_count() == 1:
    return jax.device_put(tree, sharding)

  def put(x):
    if isinstance(x, jax.Array) and x.sharding == sharding:
      return x
    if isinstance(x, jax.Array) and x.is_fully_addressable:
      # A host-local array (made outside the mesh: a fresh optimizer state, zeroed
      # metrics) holds the same value on every host; jax.device_put would not make
      # it global, so it goes through the host.
      x = np.asarray(x)
    return jax.device_put(x, sharding)
  return jax.tree.map(put, tree)


def replicated_like(shapes, mesh):
  """`shapes` (ShapeDtypeStructs) placed as `replicate` places arrays: a restore template."""
  sharding = NamedSharding(mesh, P())
  return jax.tree.map(lambda s: jax.ShapeDtypeStruct(s.shape, s.dtype, sharding=sharding),
                      shapes)


def to_host(tree):
  """numpy copies of (global) arrays, the same on every host: a replicated array is read
  from this host's copy, a sharded one gathered from every host."""
  def get(x):
    if isinstance(x, jax.Array) and not x.is_fully_addressable:
      if x.is_fully_replicated:
        return np.asarray(x.addressable_data(0))
      return multihost_utils.process_allgather(x, tiled=True)
    return np.asarray(x)
  return jax.tree.map(get, tree)


def shard_batch(batch: dict, mesh) -> dict:
  """This host's part of the global batch -> one global array sharded along 'data'."""
  sharding = NamedSharding(mesh, P('data'))
  return {k: jax.make_array_from_process_local_data(sharding, np.asarray(v))
          for k, v in batch.items()}
