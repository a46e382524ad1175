r"""Predicts with an exported model; needs only jax to run it, not odn_jax's model code.

  python launch/predict.py --model=FILE --input=digit.png [--input=more.png ...]
  python launch/predict.py --model=FILE --input=images.npz     # 'x' or 'images' [, 'y']
  python launch/predict.py --model=FILE --workdir=DIR --split=test   # prints accuracy
"""

import jax
import jax.numpy as jnp
import numpy as np
from absl import flags

from odn_jax.launch_utils import run_main

_MODEL = flags.DEFINE_string('model', None, 'File written by launch/export.py.')
_INPUT = flags.DEFINE_multi_string('input', [], 'Image files (PNG, JPEG...) or one .npz.')
_WORKDIR = flags.DEFINE_string('workdir', None, 'With --split: predict a split of its dataset.')
_SPLIT = flags.DEFINE_string('split', 'test', 'Split of the workdir dataset.')
_BATCH = flags.DEFINE_integer('batch_size', 500, 'Examples per call.')
flags.mark_flag_as_required('model')


def read_inputs(paths, input_shape):
  """uint8 images [N, H, W, C] and labels (or None) from image files or one .npz."""
  if len(paths) == 1 and paths[0].endswith('.npz'):
    with np.load(paths[0]) as f:
      key = next((k for k in ('x', 'images', 'x_test') if k in f.files), None)
      if key is None:
        raise ValueError(f"{paths[0]} has no 'x', 'images' or 'x_test' array")
      labels = next((f[k] for k in ('y', 'labels', 'y_test') if k in f.files), None)
      images = f[key]
  else:
    from PIL import Image  # pylint: disable=g-import-not-at-top
    mode = 'L' if input_shape[-1] == 1 else 'RGB'
    images = np.stack([np.asarray(Image.open(p).convert(mode).resize(input_shape[1::-1]))
                       for p in paths])
    labels = None
  if images.ndim == 3:
    images = images[..., None]
  if tuple(images.shape[1:]) != tuple(input_shape):
    raise ValueError(f'images have shape {images.shape[1:]}, the model takes {input_shape}')
  return images, labels


def read_split(workdir, split):
  """uint8 images and labels of a split of the dataset a workdir's run was trained on."""
  import json, os  # pylint: disable=g-import-not-at-top,multiple-imports
  import ml_collections  # pylint: disable=g-import-not-at-top
  from odn_jax import data  # pylint: disable=g-import-not-at-top
  with open(os.path.join(workdir, 'config.json')) as f:
    ds = data.load(ml_collections.ConfigDict(json.load(f)))
  if split not in ds.splits:
    raise ValueError(f'unknown split {split!r}; choose one of {sorted(ds.splits)}')
  return ds.splits[split]


def main(argv):
  del argv
  with open(_MODEL.value, 'rb') as f:
    model = jax.export.deserialize(bytearray(f.read()))
  input_shape = tuple(model.in_avals[0].shape[1:])
  if _WORKDIR.value:
    images, labels = read_split(_WORKDIR.value, _SPLIT.value)
  elif _INPUT.value:
    images, labels = read_inputs(_INPUT.value, input_shape)
  else:
    raise ValueError('give --input=FILE(s) or --workdir=DIR --split=SPLIT')
  logits = np.concatenate([model.call(jnp.asarray(images[i:i + _BATCH.value], jnp.float32))
                           for i in range(0, len(images), _BATCH.value)])
  predictions = logits.argmax(-1)
  if labels is None:
    names = (_INPUT.value if len(_INPUT.value) == len(images)
             else [f'{_INPUT.value[0]}[{i}]' for i in range(len(images))])
    for name, p in zip(names, predictions):
      print(f'{name}: {p}')
  else:
    print(f'accuracy {100.0 * np.mean(predictions == labels):.2f}% on {len(labels)} examples')


if __name__ == '__main__':
  run_main(main)
