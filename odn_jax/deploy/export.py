"""The extracted subnet as a self-contained StableHLO file (jax.export): building it, and
saving, loading and running it with jax alone.

The exported function takes float32 images with pixel values in 0..255 (uint8 images
cast to float32), shape [batch, H, W, C] with a symbolic batch, normalises them inside
exactly as the training pipeline does, and returns the logits of the optimal depth's
head, computed in the dtype the run computed in. The weights are constants inside the
file: reading it back needs only `jax.export.deserialize`, no odn_jax and no checkpoint.
It is lowered for CPU, CUDA and TPU at once (about 1 KB more than CPU alone), so the same
file runs on any of them. Beside it, FILE.json is the subnet's ModelInfo (class names,
dataset, depth), for people and launch/predict.py to read.

Only `export_subnet` builds a network: the model code is imported there alone, so that
loading and running a file (launch/predict.py) needs this module and jax.
"""

from typing import Sequence

from etils import epath
import jax
import jax.numpy as jnp
import numpy as np

from odn_jax.errors import FlagError, NotFoundError
from odn_jax.pixels import normalize
from odn_jax.run import record_files, workdir as workdir_lib
from odn_jax.run.records import ModelInfo

PLATFORMS = ('cpu', 'cuda', 'tpu')
KNOWN_PLATFORMS = ('cpu', 'cuda', 'rocm', 'tpu')


def export_subnet(variables: dict, info: ModelInfo,
                  platforms: Sequence[str] | None = PLATFORMS) -> jax.export.Exported:
  """The forward pass of the subnet `info` describes, at head `info.depth`;
  `platforms=None` lowers for the platform this process runs on only."""
  from odn_jax import models  # pylint: disable=g-import-not-at-top  # see the module doc
  unknown = set(platforms or ()) - set(KNOWN_PLATFORMS)
  if unknown:
    raise FlagError(f'unknown platforms {sorted(unknown)}; choose from {KNOWN_PLATFORMS}')
  model = models.from_info(info)
  params, state = variables['params'], variables['state']

  def forward(images):
    logits, _ = model.apply(params, state, normalize(images, info.mean, info.std), info.depth,
                            train=False)
    return logits

  (batch,) = jax.export.symbolic_shape('batch')
  spec = jax.ShapeDtypeStruct((batch, *info.input_shape), jnp.float32)
  return jax.export.export(jax.jit(forward), platforms=platforms)(spec)


def info_path(path: str) -> str:
  """Where the ModelInfo of the file at `path` is written beside it."""
  return f'{path}.json'


def save(exported: jax.export.Exported, path: str, info: ModelInfo | None = None) -> int:
  """Writes the serialised model (all or nothing), and `info` beside it; returns the
  file's size in bytes."""
  blob = exported.serialize()
  if info is not None:
    record_files.write_model_info(info_path(path), info)
  workdir_lib.write_bytes(path, blob)
  return len(blob)


def load(path: str) -> jax.export.Exported:
  """The exported model at `path`, checked to run on this process's backend."""
  if not epath.Path(path).is_file():
    raise NotFoundError(f'{path} does not exist; write it with launch/export.py')
  try:
    exported = jax.export.deserialize(bytearray(epath.Path(path).read_bytes()))
  except Exception as e:  # not an exported model: one line, not a traceback
    raise FlagError(f'{path} is not a model written by launch/export.py '
                    f'({type(e).__name__})') from e
  backend = jax.default_backend()
  if not {'gpu': {'cuda', 'rocm'}}.get(backend, {backend}) & set(exported.platforms):
    raise FlagError(f'{path} was exported for {", ".join(exported.platforms)}, not {backend}; '
                    'export it again with --platforms including it')
  return exported


def load_info(path: str) -> ModelInfo | None:
  """The ModelInfo written beside the file at `path`, or None (a file copied alone)."""
  return record_files.load_export_info(info_path(path))


def input_shape(exported: jax.export.Exported) -> tuple[int, ...]:
  """(H, W, C) of one image the model takes."""
  return tuple(exported.in_avals[0].shape[1:])


def predict(exported: jax.export.Exported, images: np.ndarray,
            batch_size: int = 500) -> np.ndarray:
  """Logits of uint8 (or 0..255 float) images [N, H, W, C], `batch_size` at a time (the
  batch dimension is symbolic: any size runs)."""
  if batch_size < 1:
    raise FlagError(f'batch size must be >= 1, got {batch_size}')
  return np.concatenate([
      np.asarray(exported.call(jnp.asarray(images[i:i + batch_size], jnp.float32)))
      for i in range(0, len(images), batch_size)])
