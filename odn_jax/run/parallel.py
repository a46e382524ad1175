"""Data parallelism with JAX's own sharding: one mesh axis 'data' over every device.

The global batch is split along its first axis, parameters and optimizer state are
replicated, and the jitted steps are unchanged: XLA inserts the all-reduces, so
BatchNorm statistics and gradients are those of the global batch. One device is the
same code path with a mesh of one.

Several hosts (processes) make one mesh of all their devices. Everything the run keeps
or reduces is a global array on it: each host feeds its own slice of every global batch
(`shard_batch`), the train state is replicated (`replicate`), and host-side reads see the
whole value on every host (`to_host`). What one host alone could find wrong is agreed on
by all before any waits for the others (`agreed`), a preemption stops all at one step
(`reached_preemption`), and a host that dies is noticed within HEARTBEAT_TIMEOUT_S.
"""

import contextlib

import jax
import numpy as np
from jax.experimental import multihost_utils
from jax.sharding import NamedSharding, PartitionSpec as P

from odn_jax.errors import ConfigError, UserError


# A host that stops sending heartbeats for this long is taken as dead and the job ends,
# instead of its peers waiting for it in their next collective (JAX's default: 100 s).
HEARTBEAT_TIMEOUT_S = 10
# How long a host that finished waits for the others at exit (process 0 writes the report
# last): JAX's default.
SHUTDOWN_TIMEOUT_S = 300
MESSAGE_BYTES = 2048  # of an error message shared between hosts


def initialize(distributed: bool):
  """Joins the other hosts (TPU pods, multi-node GPU, or the processes of a SLURM step)
  before any device is touched: where they are is read from the environment."""
  if distributed:
    try:
      jax.distributed.initialize(heartbeat_timeout_seconds=HEARTBEAT_TIMEOUT_S,
                                 shutdown_timeout_seconds=SHUTDOWN_TIMEOUT_S)
    except (ValueError, RuntimeError) as e:  # no cluster found in the environment
      line = next((l.strip() for l in str(e).splitlines() if l.strip()), type(e).__name__)
      raise ConfigError(f'config.distributed=True but no cluster to join ({line[:200]}); '
                        'run it under a TPU pod or SLURM, or with JAX_COORDINATOR_ADDRESS, '
                        'JAX_NUM_PROCESSES and JAX_PROCESS_ID set; else leave it False') from None


def _gather_messages(message: str) -> list[str]:
  """Every host's `message` ('' for none), in process order."""
  blob = np.zeros(MESSAGE_BYTES, np.uint8)
  encoded = message.encode()[:MESSAGE_BYTES]
  blob[:len(encoded)] = np.frombuffer(encoded, np.uint8)
  gathered = np.asarray(multihost_utils.process_allgather(blob))
  return [bytes(row).rstrip(b'\0').decode(errors='replace') for row in gathered]


def from_process_0(text: str) -> str:
  """Process 0's `text`, on every host (each must call this)."""
  if jax.process_count() == 1:
    return text
  mine = np.frombuffer(text.encode(), np.uint8)
  size = int(multihost_utils.broadcast_one_to_all(np.int32(mine.size)))
  buffer = mine if jax.process_index() == 0 else np.zeros(size, np.uint8)
  return bytes(np.asarray(multihost_utils.broadcast_one_to_all(buffer))).decode()


@contextlib.contextmanager
def agreed():
  """Runs the block on every host, then agrees: an error raised on any host is raised on
  every host, with that host's message, so all stop at once (the one that failed would
  otherwise leave the others waiting for it in their next collective).

  The block must not wait for the other hosts itself. A `UserError` raised everywhere
  is marked `agreed`: every host reports it and exits as one.
  """
  if jax.process_count() == 1:
    yield
    return
  error = None
  try:
    yield
  except Exception as e:  # pylint: disable=broad-except  # shared, then raised again
    error = e
  mine = '' if error is None else (str(error) or type(error).__name__)
  failed = [(i, m) for i, m in enumerate(_gather_messages(mine)) if m]
  if not failed:
    return
  if error is None:
    host, message = failed[0]
    error = UserError(f'{message} (on host {host})')
  error.agreed = True
  raise error


def reached_preemption(step: int) -> bool:
  """Whether every host of a jax.distributed job has agreed to stop before global `step`
  after a preemption notice (SIGTERM) reached any one; asked before every step, in order.

  JAX agrees on one past the largest of the steps the hosts asked last, so nothing else in
  the process may ask (the checkpoint manager does not)."""
  return multihost_utils.reached_preemption_sync_point(step)


def make_mesh() -> jax.sharding.Mesh:
  # Auto axes: XLA propagates the batch sharding through the unchanged step code.
  return jax.make_mesh((jax.device_count(),), ('data',),
                       axis_types=(jax.sharding.AxisType.Auto,))


def replicate(tree, mesh):
  """`tree` as global arrays, whole on every device of `mesh`."""
  sharding = NamedSharding(mesh, P())
  if jax.process_count() == 1:
    return jax.device_put(tree, sharding)

  def put(x):
    if isinstance(x, jax.Array) and x.sharding == sharding:
      return x
    if isinstance(x, jax.Array) and not x.is_fully_addressable:
      return jax.device_put(x, sharding)  # global already: resharded
    # A host-local value (made outside the mesh: a fresh optimizer state, zeroed metrics)
    # is the same on every host. jax.device_put would not make a host-local jax.Array
    # global, and would check a numpy array against every host's, a collective per leaf.
    x = np.asarray(x)
    return jax.make_array_from_callback(x.shape, sharding, lambda index: x[index])
  return jax.tree.map(put, tree)


def scalar(value: float, mesh):
  """A number passed to the steps every call (the learning rate): itself on one host; on
  several a replicated array, which JAX need not check against the other hosts' (a
  collective each step, as it does for a Python number)."""
  if jax.process_count() == 1:
    return value
  return replicate(np.float32(value), mesh)


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
