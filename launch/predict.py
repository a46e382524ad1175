r"""Predicts with a model file written by launch/export.py, using jax.export alone.

  python launch/predict.py --model=FILE --input=digit.png [--input=more.png ...]
  python launch/predict.py --model=FILE --input=images.npz     # 'x' or 'images' [, 'y']
  python launch/predict.py --model=FILE --workdir=DIR --split=test   # prints accuracy

No odn_jax model code and no checkpoint is read: the file holds the network, its weights
and its normalisation. Image files are converted to the model's channels and resized to
its input size; an .npz holds uint8 (or 0..255 float) images [N, H, W(, C)] under 'x',
'images' or 'x_test', and optionally labels under 'y', 'labels' or 'y_test' (then the
accuracy is printed). With --workdir the split is read through the run's data config
(odn_jax.data, no model code): its accuracy is the run's test accuracy.
"""

import json
import os

from absl import flags
import jax
import jax.numpy as jnp
import numpy as np

from odn_jax.launch_utils import run_main

_MODEL = flags.DEFINE_string('model', None, 'File written by launch/export.py.')
_INPUT = flags.DEFINE_multi_string('input', [], 'Image files (PNG, JPEG...) or one .npz.')
_WORKDIR = flags.DEFINE_string('workdir', None, 'With --split: predict a split of its dataset.')
_SPLIT = flags.DEFINE_string('split', 'test', 'Split of the workdir dataset.')
_BATCH = flags.DEFINE_integer('batch_size', 500, 'Examples per call.')
_JSON = flags.DEFINE_bool('json', False, 'Print JSON: predictions (and accuracy).')
flags.mark_flag_as_required('model')

IMAGE_KEYS, LABEL_KEYS = ('x', 'images', 'x_test'), ('y', 'labels', 'y_test')


def load_model(path: str) -> jax.export.Exported:
  if not os.path.isfile(path):
    raise FileNotFoundError(f'{path} does not exist; write it with launch/export.py')
  with open(path, 'rb') as f:
    try:
      exported = jax.export.deserialize(bytearray(f.read()))
    except Exception as e:  # not an exported model: one line, not a traceback
      raise ValueError(f'{path} is not a model written by launch/export.py '
                       f'({type(e).__name__})') from e
  backend = jax.default_backend()
  if not {'gpu': {'cuda', 'rocm'}}.get(backend, {backend}) & set(exported.platforms):
    raise ValueError(f'{path} was exported for {", ".join(exported.platforms)}, not {backend}; '
                     'export it again with --platforms including it')
  return exported


def read_npz(path: str):
  with np.load(path) as f:
    key = next((k for k in IMAGE_KEYS if k in f.files), None)
    if key is None:
      raise ValueError(f'{path} has none of the arrays {IMAGE_KEYS} (it has {f.files})')
    label_key = next((k for k in LABEL_KEYS if k in f.files), None)
    return f[key], (None if label_key is None else f[label_key])


def read_image(path: str, input_shape) -> np.ndarray:
  from PIL import Image  # pylint: disable=g-import-not-at-top
  height, width, channels = input_shape
  with Image.open(path) as image:
    image = image.convert('L' if channels == 1 else 'RGB')
    if image.size != (width, height):
      image = image.resize((width, height), Image.Resampling.BILINEAR)
    pixels = np.asarray(image)
  return pixels.reshape(height, width, channels)


def read_inputs(paths, input_shape):
  """Images [N, H, W, C] (0..255) and labels (or None) from image files or one .npz."""
  if any(p.endswith('.npz') for p in paths):
    if len(paths) != 1:
      raise ValueError('give one .npz file, or image files only')
    images, labels = read_npz(paths[0])
  else:
    for p in paths:
      if not os.path.isfile(p):
        raise FileNotFoundError(f'{p} does not exist')
    images, labels = np.stack([read_image(p, input_shape) for p in paths]), None
  images = np.asarray(images)
  if images.ndim == len(input_shape) and input_shape[-1] == 1:
    images = images[..., None]  # [N, H, W] grey images
  if tuple(images.shape[1:]) != tuple(input_shape):
    raise ValueError(f'images have shape {images.shape[1:]}, the model takes {input_shape}')
  return images, labels


def read_split(workdir: str, split: str):
  """uint8 images and labels of `split` of the run's dataset, unnormalised."""
  import ml_collections  # pylint: disable=g-import-not-at-top
  from odn_jax import data  # pylint: disable=g-import-not-at-top
  config_file = os.path.join(workdir, 'config.json')
  if not os.path.isfile(config_file):
    raise FileNotFoundError(f'{config_file} does not exist; pass the --workdir of a run')
  with open(config_file) as f:
    config = ml_collections.ConfigDict(json.load(f))
  splits = data.load_splits(config.data)
  if split not in splits:
    raise ValueError(f'unknown split {split!r}; choose one of {sorted(splits)}')
  return splits[split]


def predict(exported: jax.export.Exported, images: np.ndarray, batch_size: int) -> np.ndarray:
  """Logits of every image, `batch_size` at a time (the batch dimension is symbolic)."""
  return np.concatenate([
      np.asarray(exported.call(jnp.asarray(images[i:i + batch_size], jnp.float32)))
      for i in range(0, len(images), batch_size)])


def main(argv):
  del argv
  exported = load_model(_MODEL.value)
  input_shape = tuple(exported.in_avals[0].shape[1:])
  if _WORKDIR.value:
    images, labels = read_split(_WORKDIR.value, _SPLIT.value)
    names = None
  elif _INPUT.value:
    images, labels = read_inputs(_INPUT.value, input_shape)
    names = None if _INPUT.value[0].endswith('.npz') else _INPUT.value
  else:
    raise ValueError('give --input=FILE (image files or one .npz) or --workdir=DIR --split=SPLIT')
  if _BATCH.value < 1:
    raise ValueError(f'--batch_size must be >= 1, got {_BATCH.value}')
  logits = predict(exported, images, _BATCH.value)
  predictions = logits.argmax(-1)
  accuracy = None if labels is None else 100.0 * float(np.mean(predictions == labels))
  if _JSON.value:
    print(json.dumps({'predictions': predictions.tolist(), 'accuracy': accuracy,
                      'examples': len(predictions)}))
    return
  if names is not None:
    for name, p in zip(names, predictions):
      print(f'{name}: {p}')
  elif labels is None:
    print(' '.join(map(str, predictions.tolist())))
  if accuracy is not None:
    print(f'accuracy {accuracy:.2f}% on {len(labels)} examples')


if __name__ == '__main__':
  run_main(main)
