"""From in-memory splits to batches: shuffling, augmentation, normalisation, prefetch.

The order and augmentation of an epoch are a pure function of (seed, order key), computed
for the whole global batch, of which each host keeps its own slice: a resumed run and
every host see exactly what an uninterrupted single-process run would.
"""

import queue
import threading
from typing import Iterator, Sequence

import jax
import numpy as np

from odn_jax.data.errors import DataError
from odn_jax.pixels import normalize  # the one normalisation: also the subnet's and export's

PAD = 4  # pixels of zero padding before the random crop (the notebooks' CIFAR-10 setting)


def random_crop_flip(images: np.ndarray, offsets: np.ndarray, flips: np.ndarray) -> np.ndarray:
  """Crops each image from its zero-padded copy at `offsets` [N, 2], mirrors where `flips`."""
  n, h, w, _ = images.shape
  padded = np.pad(images, ((0, 0), (PAD, PAD), (PAD, PAD), (0, 0)))
  rows = offsets[:, 0, None] + np.arange(h)[None]  # [N, H]
  cols = offsets[:, 1, None] + np.arange(w)[None]  # [N, W]
  cols = np.where(flips[:, None], cols[:, ::-1], cols)
  return padded[np.arange(n)[:, None, None], rows[:, :, None], cols[:, None, :]]


def prefetch(iterator: Iterator, size: int) -> Iterator:
  """Runs `iterator` in a background thread, `size` items ahead of the consumer."""
  if size <= 0:
    yield from iterator
    return
  items, stop, done = queue.Queue(maxsize=size), threading.Event(), object()

  def produce():
    try:
      for item in iterator:
        while not stop.is_set():
          try:
            items.put(item, timeout=0.1)
            break
          except queue.Full:
            continue
        if stop.is_set():
          return
      items.put(done)
    except Exception as e:  # surfaced in the consumer
      items.put(e)

  thread = threading.Thread(target=produce, daemon=True)
  thread.start()
  try:
    while (item := items.get()) is not done:
      if isinstance(item, Exception):
        raise item
      yield item
  finally:
    stop.set()  # a consumer that stops early (preemption) releases the thread


def epoch_batch_sizes(num_examples: int, batch_size: int, drop_last: bool,
                      num_devices: int = 1) -> list[int]:
  """Global batch sizes of one epoch: full batches, then with `drop_last` False the rest.

  The last partial batch (PyTorch's DataLoader with drop_last=False, the notebooks' MNIST
  family) is split over the devices, so it keeps the largest multiple of `num_devices` that
  fits: the at most num_devices - 1 examples left out differ every epoch, as the order does.
  Its shape compiles one more program per depth.
  """
  sizes = [batch_size] * (num_examples // batch_size)
  rest = num_examples % batch_size
  rest -= rest % num_devices
  if not drop_last and rest:
    sizes.append(rest)
  return sizes


class Dataset:
  """Splits held in memory, batched for one host of a data-parallel run.

  `warnings` lists what the checks of odn_jax.data.checks found worth reporting with the
  run; `findings` every finding, warnings and notes alike.
  """

  def __init__(self, name, splits, num_classes, mean, std, batch_size, eval_batch_size,
               seed, augment=False, prefetch=2, drop_last=True, num_devices=None):
    self.name, self.splits, self.num_classes = name, splits, num_classes
    self.mean, self.std, self.seed, self.augment = mean, std, seed, augment
    self.batch_size, self.eval_batch_size, self.prefetch = batch_size, eval_batch_size, prefetch
    self.drop_last = drop_last
    self.num_devices = jax.device_count() if num_devices is None else num_devices
    self.input_shape = tuple(splits['train'][0].shape[1:])
    self.num_examples = {k: len(v[1]) for k, v in splits.items()}
    self.findings, self.warnings = [], []
    self.batch_sizes = epoch_batch_sizes(self.num_examples['train'], batch_size, drop_last,
                                         self.num_devices)
    self.steps_per_epoch = len(self.batch_sizes)
    if self.steps_per_epoch < 1:
      raise DataError(f'the training split has {self.num_examples["train"]} examples, fewer '
                      f'than one batch of {batch_size}; lower config.batch_size')
    for size in (batch_size, eval_batch_size):
      if size % jax.process_count():
        raise DataError(f'batch size {size} does not divide over {jax.process_count()} hosts')

  def _host_slice(self, global_batch: int) -> slice:
    per_host = global_batch // jax.process_count()
    return slice(jax.process_index() * per_host, (jax.process_index() + 1) * per_host)

  def _train_batches(self, order: int | Sequence[int]):
    images, labels = self.splits['train']
    rng = np.random.default_rng([self.seed, *np.atleast_1d(order).tolist()])
    order = rng.permutation(len(labels))
    if self.augment:  # drawn for the whole epoch, so they do not depend on the host
      offsets = rng.integers(0, 2 * PAD + 1, size=(len(labels), 2))
      flips = rng.random(len(labels)) < 0.5
    start = 0
    for size in self.batch_sizes:
      positions = np.arange(start, start + size)[self._host_slice(size)]
      start += size
      index = order[positions]
      batch_images = images[index]
      if self.augment:
        batch_images = random_crop_flip(batch_images, offsets[positions], flips[positions])
      yield {'image': normalize(batch_images, self.mean, self.std), 'label': labels[index]}

  def train_batches(self, order: int | Sequence[int]) -> Iterator[dict]:
    """This host's part of every global batch of one epoch, sized as `batch_sizes` says, in
    the order drawn from (seed, `order`): an epoch's index, or any tuple of ints."""
    return prefetch(self._train_batches(order), self.prefetch)

  def _eval_batches(self, split: str):
    images, labels = self.splits[split]
    size, host = self.eval_batch_size, self._host_slice(self.eval_batch_size)
    for start in range(0, len(labels), size):
      index = np.arange(start, start + size)[host]
      mask = (index < len(labels)).astype(np.float32)
      index = np.minimum(index, len(labels) - 1)  # padding repeats the last example, masked
      yield {'image': normalize(images[index], self.mean, self.std), 'label': labels[index],
             'mask': mask}

  def eval_batches(self, split: str) -> Iterator[dict]:
    """The whole `split` in order; the last batch padded to full size, 'mask' 0 on padding."""
    if split not in self.splits:
      raise DataError(f'unknown split {split!r}; choose one of {sorted(self.splits)}')
    return prefetch(self._eval_batches(split), self.prefetch)
