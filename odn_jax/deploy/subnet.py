"""The extracted subnet: how it is described, saved, loaded, and run as a function of images.

  net = odn_jax.load_subnet('/tmp/odn_quickstart')
  logits = net(images)           # uint8 or float pixels 0..255: [H, W], [H, W, C], [N, H, W(, C)]
  names = net.classify(images)   # class names ('0'..'9' for the digits)

The run's normalisation is inside (optimal/model.json: mean, std), so images go in as
they are stored. The network is rebuilt from model.json (arch, width, classes, dtype,
depth) and the weights from optimal/variables: no config, dataset or trainer is read.

`load` is the one loader of a run's subnet (evaluation, export and the trainer's test pass
use it too), `model_info` the one place its ModelInfo is built, `save` where it is written.
"""

import jax
import jax.numpy as jnp
import numpy as np

from odn_jax import models
from odn_jax.errors import NotFoundError
from odn_jax.models import partition
from odn_jax.pixels import normalize
from odn_jax.run import checkpoint, record_files, workdir as workdir_lib
from odn_jax.run.records import ModelInfo

BATCH = 1024  # images per forward call: bounds memory on large inputs


def model_info(config, model, ds, depth: int, early_exit_epochs: int = 0) -> ModelInfo:
  """What a reader of the subnet of depth `depth` of `model` needs to rebuild and feed it."""
  return ModelInfo(**models.spec(model), input_shape=list(ds.input_shape),
                   mean=list(config.data.mean), std=list(config.data.std), dataset=ds.name,
                   class_names=getattr(ds, 'class_names', None),
                   early_exit_epochs=early_exit_epochs, depth=depth)


def save(workdir: workdir_lib.PathLike, variables: dict, info: ModelInfo, heads: str = 'all'):
  """optimal/: stem, blocks 1..info.depth and head info.depth of `variables` (heads='all':
  every head up to it, the early exits), with its model.json; all or nothing."""
  subnet = {k: partition.extract(v, info.depth, heads=heads) for k, v in variables.items()}
  checkpoint.save_variables(workdir_lib.optimal_path(workdir), subnet, info)


def load(workdir: workdir_lib.PathLike) -> tuple[dict, ModelInfo]:
  """(variables, model info) of the extracted subnet of the finished run in `workdir`."""
  if not workdir_lib.model_info_path(workdir).is_file():
    what = ('does not exist' if not workdir_lib.path(workdir).is_dir()
            else 'holds no finished run')
    raise NotFoundError(f'{workdir} {what}: no optimal/model.json (a run writes it when its '
                        'search has finished: rerun launch/train.py with the same flags to '
                        'complete it)')
  info = record_files.load_model_info(workdir)
  return checkpoint.load_variables(workdir_lib.optimal_path(workdir)), info


class Subnet:
  """images -> logits of the optimal depth's head, normalisation included."""

  def __init__(self, variables: dict, info: ModelInfo | dict):
    """`info`: the subnet's ModelInfo, or its model.json as a dict."""
    self.model_info = info if isinstance(info, ModelInfo) else ModelInfo.from_json(info)
    self.info = self.model_info.to_json()  # as optimal/model.json holds it
    self.depth = self.model_info.depth
    self.input_shape = tuple(self.model_info.input_shape)
    self.class_names = self.model_info.labels
    self.model = models.from_info(self.model_info)  # in the dtype the run computed in
    self.variables = jax.tree.map(jnp.asarray, variables)
    mean, std = self.model_info.mean, self.model_info.std
    model, depth = self.model, self.depth

    @jax.jit
    def forward(variables, images):
      logits, _ = model.apply(variables['params'], variables['state'],
                              normalize(images, mean, std), depth, train=False)
      return logits

    self._forward = forward

  def batch(self, images) -> tuple[np.ndarray, bool]:
    """(images [N, H, W, C], whether one image was given) for any accepted layout."""
    images = np.asarray(images)
    if not (np.issubdtype(images.dtype, np.number) or images.dtype == bool):
      raise ValueError(f'images must be numbers (pixels 0..255), got dtype {images.dtype}')
    height, width, channels = self.input_shape
    shape = images.shape
    if shape == (height, width, channels):
      return images[None], True
    if channels == 1 and shape == (height, width):
      return images[None, ..., None], True
    if shape[1:] == (height, width, channels):
      return images, False
    if channels == 1 and shape[1:] == (height, width):
      return images[..., None], False
    raise ValueError(f'images of shape {shape} do not fit this subnet, which takes '
                     f'{height}x{width}x{channels} images: give [H, W'
                     + (']' if channels > 1 else '(, 1)]')
                     + f' for one image or [N, H, W{", C" if channels > 1 else "(, 1)"}] '
                     'for a batch')

  def __call__(self, images) -> np.ndarray:
    """Logits [N, classes] of a batch, [classes] of one image."""
    images, single = self.batch(images)
    logits = [np.asarray(self._forward(self.variables, jnp.asarray(images[i:i + BATCH])))
              for i in range(0, len(images), BATCH)]
    logits = np.concatenate(logits) if logits else np.zeros((0, len(self.class_names)),
                                                            np.float32)
    return logits[0] if single else logits

  def predict(self, images) -> np.ndarray:
    """Class indices: [N] for a batch, a scalar for one image."""
    return np.asarray(self(images)).argmax(-1)

  def classify(self, images):
    """Class names: a list for a batch, a string for one image."""
    indices = self.predict(images)
    if indices.ndim == 0:
      return self.class_names[int(indices)]
    return [self.class_names[int(i)] for i in indices]


def load_subnet(workdir: workdir_lib.PathLike) -> Subnet:
  """The extracted subnet of the finished run in `workdir` (its optimal/ folder; a local
  path, or any that etils.epath reads: gs://...)."""
  return Subnet(*load(workdir))
