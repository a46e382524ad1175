r"""Predicts with a model file written by odn-export, using jax.export alone.

  odn-predict --model=FILE --input=digit.png [--input=more.png ...]
  odn-predict --model=FILE --input=images.npz     # 'x' or 'images' [, 'y']
  odn-predict --model=FILE --workdir=DIR --split=test   # prints accuracy

No odn_jax model code and no checkpoint is read: the file holds the network, its weights
and its normalisation; the class names printed come from FILE.json beside it (written by
odn-export), or with --workdir from the run's optimal/model.json (indices without). Image files are converted to the model's channels and resized to
its input size; an .npz holds uint8 (or 0..255 float) images [N, H, W(, C)] under 'x',
'images' or 'x_test', and optionally labels under 'y', 'labels' or 'y_test' (then the
accuracy is printed). With --workdir the split is read through the run's data config
(odn_jax.data, no model code): its accuracy is the run's test accuracy.
From a clone, `python launch/predict.py` is the same command.
"""

import json
import os
import zipfile

from absl import flags
import numpy as np

from odn_jax.cli.main import run_main
from odn_jax.deploy import export
from odn_jax.errors import FlagError, NotFoundError
from odn_jax.run import record_files, workdir as workdir_lib

_MODEL = flags.DEFINE_string('model', None, 'File written by odn-export.')
_INPUT = flags.DEFINE_multi_string('input', [], 'Image files (PNG, JPEG...) or one .npz.')
_WORKDIR = flags.DEFINE_string('workdir', None, 'With --split: predict a split of its dataset.')
_SPLIT = flags.DEFINE_enum('split', 'test', ['train', 'validation', 'test'],
                           'With --workdir: the split of its dataset.')
_BATCH = flags.DEFINE_integer('batch_size', 500, 'Examples per call.')
_JSON = flags.DEFINE_bool('json', False, 'Print JSON: predictions (and accuracy).')
flags.mark_flag_as_required('model')

IMAGE_KEYS, LABEL_KEYS = ('x', 'images', 'x_test'), ('y', 'labels', 'y_test')


def read_npz(path: str):
  try:
    f = np.load(path)
    if not isinstance(f, np.lib.npyio.NpzFile):
      raise ValueError('a single .npy array')
    with f:
      key = next((k for k in IMAGE_KEYS if k in f.files), None)
      if key is None:
        raise FlagError(f'{path} has none of the arrays {IMAGE_KEYS} (it has {f.files})')
      label_key = next((k for k in LABEL_KEYS if k in f.files), None)
      return f[key], (None if label_key is None else f[label_key])
  except (OSError, ValueError, EOFError, zipfile.BadZipFile) as e:  # empty, text, objects
    why = 'it holds Python objects' if 'allow_pickle' in str(e) else type(e).__name__
    raise FlagError(f'{path} is not an .npz file of arrays ({why}); write one with '
                    'numpy.savez(path, x=images, y=labels)') from None


def read_image(path: str, input_shape) -> np.ndarray:
  from PIL import Image  # pylint: disable=g-import-not-at-top
  height, width, channels = input_shape
  try:
    image = Image.open(path)
  except OSError as e:  # PIL's UnidentifiedImageError too
    raise FlagError(f'{path} is not an image file PIL can read ({type(e).__name__})') from e
  with image:
    image = image.convert('L' if channels == 1 else 'RGB')
    if image.size != (width, height):
      image = image.resize((width, height), Image.Resampling.BILINEAR)
    pixels = np.asarray(image)
  return pixels.reshape(height, width, channels)


def read_inputs(paths, input_shape):
  """Images [N, H, W, C] (0..255) and labels (or None) from image files or one .npz."""
  for p in paths:
    if not os.path.isfile(p):
      raise NotFoundError(f'{p} does not exist')
  if any(p.endswith('.npz') for p in paths):
    if len(paths) != 1:
      raise FlagError('give one .npz file, or image files only')
    images, labels = read_npz(paths[0])
  else:
    images, labels = np.stack([read_image(p, input_shape) for p in paths]), None
  images = np.asarray(images)
  if images.ndim == len(input_shape) and input_shape[-1] == 1:
    images = images[..., None]  # [N, H, W] grey images
  if tuple(images.shape[1:]) != tuple(input_shape):
    raise FlagError(f'images have shape {images.shape[1:]}, the model takes {input_shape}')
  if images.dtype.kind not in 'uif':
    raise FlagError(f'images are {images.dtype}; give uint8 (or 0..255 float) pixels')
  if images.dtype.kind == 'f':
    bad = ~np.isfinite(images)
    if bad.any():
      first = int(np.flatnonzero(bad.reshape(len(images), -1).any(axis=1))[0])
      raise FlagError(f'{int(bad.reshape(len(images), -1).any(axis=1).sum())} of the '
                      f'{len(images)} images hold NaN or infinite pixels (the first: image '
                      f'{first}); a prediction of them would mean nothing')
  if images.size and (images.min() < 0 or images.max() > 255):
    raise FlagError(f'pixels span {images.min():g}..{images.max():g}; the model takes 0..255 '
                    '(multiply 0..1 images by 255)')
  if labels is not None and (np.asarray(labels).dtype.kind not in 'iu'
                             or len(labels) != len(images)):
    raise FlagError(f'labels must be one integer per image, got {np.asarray(labels).dtype} '
                    f'of shape {np.shape(labels)} for {len(images)} images')
  return images, labels


def read_split(workdir: str, split: str):
  """uint8 images and labels of `split` of the run's dataset, unnormalised."""
  from odn_jax import data  # pylint: disable=g-import-not-at-top
  splits = data.load_splits(workdir_lib.load_config(workdir).data)
  if split not in splits:
    raise FlagError(f'unknown split {split!r}; choose one of {sorted(splits)}')
  return splits[split]


def read_class_names(model_path: str, workdir: str | None) -> list[str] | None:
  """The class names of FILE.json beside the model, else of the workdir's subnet, else None."""
  info = export.load_info(model_path)
  if info is None and workdir and workdir_lib.model_info_path(workdir).is_file():
    info = record_files.load_model_info(workdir)
  return None if info is None else info.class_names


def main(argv):
  del argv
  exported = export.load(_MODEL.value)
  input_shape = export.input_shape(exported)
  if _WORKDIR.value:
    images, labels = read_split(_WORKDIR.value, _SPLIT.value)
    names = None
  elif _INPUT.value:
    images, labels = read_inputs(_INPUT.value, input_shape)
    names = None if _INPUT.value[0].endswith('.npz') else _INPUT.value
  else:
    raise FlagError('give --input=FILE (image files or one .npz) or --workdir=DIR --split=SPLIT')
  logits = export.predict(exported, images, _BATCH.value)
  predictions = logits.argmax(-1)
  accuracy = None if labels is None else 100.0 * float(np.mean(predictions == labels))
  classes = read_class_names(_MODEL.value, _WORKDIR.value)
  if classes is not None and len(classes) != logits.shape[-1]:
    classes = None  # names of another model: indices rather than wrong names
  shown = [str(p) if classes is None else classes[p] for p in predictions.tolist()]
  if _JSON.value:
    print(json.dumps({'predictions': predictions.tolist(), 'accuracy': accuracy,
                      'examples': len(predictions),
                      **({} if classes is None else {'classes': shown})}))
    return
  if names is not None:
    for name, p in zip(names, shown):
      print(f'{name}: {p}')
  elif labels is None:
    # One per line where names may hold spaces ('Ankle boot'); indices on one line.
    print(' '.join(shown) if classes is None else '\n'.join(shown))
  if accuracy is not None:
    print(f'accuracy {accuracy:.2f}% on {len(labels)} examples')


if __name__ == '__main__':
  run_main(main)
