"""The file launch/export.py writes: save it, read it back, run it, with jax alone.

No odn_jax model code is imported here: a deployment (and launch/predict.py) needs only
this module and jax. The file is what `odn_jax.deploy.export.export_subnet` builds: float32
images [batch, H, W, C] with pixels 0..255 in, logits out, weights inside; beside it,
FILE.json: the run's optimal/model.json (class names, dataset, depth), for people and
predict.py to read.
"""

from etils import epath
import jax
import jax.numpy as jnp
import numpy as np

from odn_jax.errors import FlagError, NotFoundError
from odn_jax.run import workdir as workdir_lib


def info_path(path: str) -> str:
  """Where the model.json of the artifact at `path` is written beside it."""
  return f'{path}.json'


def save(exported: jax.export.Exported, path: str, info: dict | None = None) -> int:
  """Writes the serialised artifact (all or nothing), and `info` beside it; returns the
  artifact's size in bytes."""
  blob = exported.serialize()
  if info is not None:
    workdir_lib.write_json(info_path(path), info)

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


def load_info(path: str) -> dict | None:
  """The model.json written beside the artifact at `path`, or None (an artifact copied alone)."""
  return workdir_lib.read_json_if_exists(info_path(path))


def class_names(info: dict | None) -> list[str] | None:
  """The class names a model.json holds (None where the dataset has none)."""
  names = (info or {}).get('class_names')
  return None if names is None else [str(n) for n in names]


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
