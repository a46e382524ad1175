"""A finished run's extracted subnet as a function of images.

  net = odn_jax.load_subnet('/tmp/odn_quickstart')
  logits = net(images)           # uint8 or float pixels 0..255: [H, W], [H, W, C], [N, H, W(, C)]
  names = net.classify(images)   # class names ('0'..'9' for the digits)

The run's normalisation is inside (optimal/model.json: mean, std), so images go in as
they are stored. The network is rebuilt from model.json (arch, width, classes, depth) and
the weights from optimal/variables: no config, dataset or trainer is read.
"""


import jax
import jax.numpy as jnp
import numpy as np

from odn_jax import models
from odn_jax.run import checkpoint, workdir as workdir_lib

BATCH = 1024  # images per forward call: bounds memory on large inputs


def class_names(info: dict) -> list[str]:
  """model.json's `class_names` if the run stored them, else the class indices as text
  (the digits and MNIST: '0'..'9')."""
  names = info.get('class_names')
  if names is not None:
    if len(names) != info['num_classes']:
      raise ValueError(f'model.json has {len(names)} class_names for {info["num_classes"]} classes')
    return [str(n) for n in names]
  return [str(i) for i in range(info['num_classes'])]


class Subnet:
  """images -> logits of the optimal depth's head, normalisation included."""

  def __init__(self, variables: dict, info: dict):
    self.info = info
    self.depth = int(info['depth'])
    self.input_shape = tuple(info['input_shape'])
    self.class_names = class_names(info)
    self.model = models.from_info(info)  # in the dtype the run computed in
    self.variables = jax.tree.map(jnp.asarray, variables)
    mean = np.asarray(info['mean'], np.float32)
    std = np.asarray(info['std'], np.float32)
    model, depth = self.model, self.depth

    @jax.jit
    def forward(variables, images):
      # The same arithmetic as odn_jax.data.pipeline.normalize.
      x = (images.astype(jnp.float32) * np.float32(1 / 255) - mean) / std
      logits, _ = model.apply(variables['params'], variables['state'], x, depth, train=False)
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
  if not workdir_lib.model_info_path(workdir).is_file():
    what = ('does not exist' if not workdir_lib.path(workdir).is_dir()
            else 'holds no finished run')
    raise FileNotFoundError(f'{workdir} {what}: no optimal/model.json (a run writes it when '
                            'its search has finished)')
  variables, info = checkpoint.load_variables(workdir_lib.optimal_path(workdir))
  return Subnet(variables, info)
