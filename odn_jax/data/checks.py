"""Checks of a dataset's splits, run once when it is loaded, always on.

They look for the data mistakes that make a search train for hours and report a depth that
means nothing: classes missing from training, a validation split cut by position from a
class-sorted file, test images that are training images, empty or constant splits. Each is
one pass over the labels or one hash per image (about 0.1 s for 70,000 28x28 images), and
each finding is one line naming the split, the numbers and the fix.

  findings = checks.run(splits, num_classes, batch_size, cut_by_position=True)
  checks.raise_errors(findings)   # a DataError naming every error
"""

import hashlib
from typing import NamedTuple

import numpy as np

from odn_jax.data.errors import DataError

ERROR, WARNING, INFO = 'error', 'warning', 'info'
LEVELS = (ERROR, WARNING, INFO)  # most serious first
EVAL_SPLITS = ('validation', 'test')

# A class counts as "nearly absent" from training when training holds under this share of
# what the evaluated split's frequency predicts (and that split has at least MIN_EVIDENCE
# examples of it, so a handful of examples cannot raise the error by chance).
NEARLY_ABSENT = 0.1
MIN_EVIDENCE = 5
# Total variation distance between two splits' class frequencies above which they are
# "strongly different", unless sampling alone explains a distance this large (small splits).
FREQUENCY_DISTANCE = 0.1
# Share of an evaluated split's images that may also be training images before its
# accuracy stops being a held-out measure; and share of constant (blank) images tolerated.
OVERLAP_SHARE = 0.01
CONSTANT_SHARE = 0.01
# Labels whose neighbours agree this far beyond what a shuffled order gives (a fraction of
# the gap between chance and "always the same") come in runs: sorted or grouped by class.
# Runs matter to a cut by position when the mean run is at least RUN_SHARE of the smallest
# piece cut (fewer than about 100 runs per piece).
ORDER_EXCESS = 0.5
MIN_ORDER_EXAMPLES = 100
RUN_SHARE = 0.01
SHUFFLE_FIX = ('--config.data.split_seed=0 (shuffles the training split with that seed, '
               'kept in the run\'s config, before cutting validation from it)')


class Finding(NamedTuple):
  level: str  # ERROR stops before training; WARNING is reported with the run; INFO is shown
  message: str


def histogram(labels: np.ndarray, num_classes: int) -> np.ndarray:
  """Examples per class, 0..num_classes-1."""
  return np.bincount(np.asarray(labels, np.int64), minlength=num_classes)[:num_classes]


def _list(values) -> str:
  values = [int(v) for v in values]
  return ', '.join(map(str, values[:12])) + (f' (+{len(values) - 12} more)'
                                             if len(values) > 12 else '')


def _classes(indices) -> str:
  return ('class ' if len(indices) == 1 else 'classes ') + _list(indices) + (
      ' is' if len(indices) == 1 else ' are')


def _percentages(counts: np.ndarray) -> str:
  shares = 100.0 * counts / max(counts.sum(), 1)
  return ' '.join(f'{k}:{s:.1f}' for k, s in enumerate(shares))


def order(labels: np.ndarray, source: str, cut: str, smallest: int) -> Finding | None:
  """Labels sorted, or in runs of one class at least RUN_SHARE of the `smallest` piece that
  `cut` (in words) takes from them by position: an error, the pieces would hold different
  classes. Shorter runs mix within every piece, and the coverage checks still apply."""
  labels = np.asarray(labels)
  n = len(labels)
  if n < MIN_ORDER_EXAMPLES:
    return None
  shares = np.bincount(labels) / n
  chance = float((shares ** 2).sum())  # neighbours agree this often in a shuffled order
  agree = float(np.mean(labels[1:] == labels[:-1]))
  runs = 1 + int(np.count_nonzero(labels[1:] != labels[:-1]))
  if (chance >= 1.0 or agree <= chance + ORDER_EXCESS * (1.0 - chance)
      or n / runs < RUN_SHARE * smallest):
    return None
  kind = 'are sorted by class' if np.all(np.diff(labels) >= 0) else 'come in runs of one class'
  return Finding(ERROR, (
      f'the {source} training split\'s labels {kind} (mean run {n / runs:,.0f} examples; '
      f'about {1 / (1 - chance):.1f} in a shuffled order), and {cut} by position, so the '
      f'pieces would hold different classes; fix: {SHUFFLE_FIX}, or shuffle the file, or '
      'give the source its own validation split (x_val, y_val in an .npz)'))


def degenerate(splits: dict, num_classes: int, batch_size: int) -> list[Finding]:
  """Empty splits, one class only, a validation split under one batch, constant images."""
  findings = []
  for split, (images, labels) in splits.items():
    n = len(labels)
    if n == 0:
      findings.append(Finding(ERROR, f'the {split} split is empty; give the source '
                              f'{split} examples (or lower config.data.num_train)'))
      continue
    present = np.flatnonzero(histogram(labels, num_classes))
    if len(present) == 1 and num_classes > 1:
      level = ERROR if split == 'train' else WARNING
      findings.append(Finding(level, (
          f'the {split} split holds one class only (class {present[0]}, {n:,} examples, of '
          f'{num_classes}): ' + ('nothing to tell apart; check the labels and '
                                 'config.data.label_offset' if split == 'train' else
                                 'its accuracy measures that class alone; split the data '
                                 'so every class is in it'))))
    flat = images.reshape(n, -1)
    low, high = flat.min(axis=1), flat.max(axis=1)
    if low.min() == high.max():
      findings.append(Finding(ERROR, (
          f'every image of the {split} split is the single value {int(low[0])}: the pixels '
          'were lost (check how the file was written: uint8 0..255, one image per row)')))
      continue
    blank = int(np.count_nonzero(low == high))
    if blank > CONSTANT_SHARE * n:
      findings.append(Finding(WARNING, (
          f'{blank:,} of the {split} split\'s {n:,} images ({100 * blank / n:.1f}%) are a '
          'single value (blank); check how the file was written')))
  if 'validation' in splits and 0 < len(splits['validation'][1]) < batch_size:
    n = len(splits['validation'][1])
    findings.append(Finding(WARNING, (
        f'the validation split has {n} examples, fewer than one batch of {batch_size}: its '
        f'accuracy moves in steps of {100 / n:.2g} points, too coarse to steer the search; '
        'raise config.data.num_val')))
  return findings


def _lacking(train: np.ndarray, other: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
  """Classes of `other` absent from `train`, and those nearly absent (histograms)."""
  expected = train.sum() * other / max(other.sum(), 1)  # what other's frequencies predict
  missing = np.flatnonzero((other > 0) & (train == 0))
  scarce = np.flatnonzero((other >= MIN_EVIDENCE) & (train > 0)
                          & (train < NEARLY_ABSENT * expected))
  return missing, scarce


def coverage(splits: dict, num_classes: int, source_train: np.ndarray | None = None,
             cut_by_position: bool = False) -> list[Finding]:
  """Classes evaluated but (nearly) never trained on: an error. Strongly different class
  frequencies between training and an evaluated split: a warning with the frequencies.

  `source_train`: the labels of the source's whole training split, before any cut. Where it
  holds the classes that training lacks, shuffling before the cut is the fix; where it
  lacks them too, the source itself was split badly."""
  findings = []
  train = histogram(splits['train'][1], num_classes)
  source = train if source_train is None else histogram(source_train, num_classes)
  n_train = int(train.sum())
  shuffle_fix = SHUFFLE_FIX if cut_by_position else 'shuffle the data before splitting it'
  for split in EVAL_SPLITS:
    if split not in splits or not len(splits[split][1]):
      continue
    other = histogram(splits[split][1], num_classes)
    n_other = int(other.sum())
    missing, scarce = _lacking(train, other)
    if len(missing) or len(scarce):
      parts = []
      if len(missing):
        parts.append(f'{_classes(missing)} absent from train ({_list(other[missing])} '
                     f'examples in {split})')
      if len(scarce):
        parts.append(f'{_classes(scarce)} nearly absent from train ({_list(train[scarce])} of '
                     f'{n_train:,} examples, against {_list(other[scarce])} of {n_other:,} in '
                     f'{split})')
      if any(map(len, _lacking(source, other))):
        fix = (f'the source\'s own training split lacks them too, so its train and {split} '
               f'hold different classes: shuffle the data before splitting it into train and '
               f'{split}, or check config.data.num_classes / label_offset')
      else:
        fix = shuffle_fix
      findings.append(Finding(ERROR, (
          f'the {split} split has classes training cannot learn: {"; ".join(parts)}; '
          f'its accuracy cannot reach what the search aims for; fix: {fix}')))
      continue
    distance = 0.5 * float(np.abs(train / n_train - other / n_other).sum())
    # Mean total variation between two samples of one distribution (normal approximation):
    # three times it is what sampling alone can explain.
    pooled = (train + other) / (n_train + n_other)
    noise = 0.5 * np.sqrt(2 / np.pi) * float(
        np.sqrt(pooled * (1 - pooled) * (1 / n_train + 1 / n_other)).sum())
    if distance > max(FREQUENCY_DISTANCE, 3 * noise):
      findings.append(Finding(WARNING, (
          f'class frequencies differ between train and {split} (total variation '
          f'{distance:.2f}; sampling explains about {noise:.2f}): train % {_percentages(train)}'
          f'; {split} % {_percentages(other)}; its accuracy weighs the classes differently '
          f'from training; if that is not intended: {shuffle_fix}')))
  return findings


def _hashes(images: np.ndarray) -> list[bytes]:
  flat = np.ascontiguousarray(images).reshape(len(images), -1)
  return [hashlib.blake2b(row, digest_size=16).digest() for row in flat]


def overlap(splits: dict) -> list[Finding]:
  """Evaluated images byte-identical to a training image: counted; above OVERLAP_SHARE, a
  warning that the accuracy is not a held-out measure."""
  findings = []
  if not len(splits['train'][1]):
    return findings
  train = set(_hashes(splits['train'][0]))
  for split in EVAL_SPLITS:
    if split not in splits or not len(splits[split][1]):
      continue
    n = len(splits[split][1])
    shared = sum(h in train for h in _hashes(splits[split][0]))
    share = shared / n
    message = (f'{shared:,} of the {split} split\'s {n:,} images ({100 * share:.2f}%) are '
               'byte-identical to a training image')
    if share > OVERLAP_SHARE:
      findings.append(Finding(WARNING, message + (
          f': its accuracy is not a held-out measure; remove the duplicates from {split} '
          '(or from train)')))
    else:
      findings.append(Finding(INFO, message))
  return findings


def run(splits: dict, num_classes: int, batch_size: int, source_train: np.ndarray | None = None,
        cut_by_position: bool = False) -> list[Finding]:
  """Every check of the loaded splits, errors first. `source_train`: the labels of the
  source's training split before any cut; `cut_by_position`: whether pieces of it were
  taken by position (and not after shuffling), which decides the fix the messages give."""
  findings = degenerate(splits, num_classes, batch_size)
  if not any(f.level == ERROR for f in findings):  # the others assume non-empty splits
    findings += coverage(splits, num_classes, source_train, cut_by_position) + overlap(splits)
  return sorted(findings, key=lambda f: LEVELS.index(f.level))


def consistency(splits: dict) -> str | None:
  """Why the splits cannot feed one network (images of another shape or channel count than
  training's, e.g. an 8x8 test split against 16x16 training images), or None."""
  def hwc(shape):
    return f'{shape[0]}x{shape[1]} with {shape[2]} channel{"s" * (shape[2] != 1)}'
  train = tuple(splits['train'][0].shape[1:]) if 'train' in splits else None
  for split, (images, _) in splits.items():
    if train is not None and tuple(images.shape[1:]) != train:
      return (f'the {split} split\'s images are {hwc(images.shape[1:])}, the train split\'s '
              f'{hwc(train)}: a network trained on one cannot be measured on the other; give '
              'every split images of one shape and channel count')
  return None


def fingerprint(splits: dict) -> dict:
  """What identifies the data of a run, saved with its every checkpoint and checked on
  resume: per split the count, image shape and dtype, label range, and a hash of its bytes
  (about 0.1 s for MNIST)."""
  out = {}
  for split, (images, labels) in sorted(splits.items()):
    digest = hashlib.blake2b(digest_size=16)
    digest.update(np.ascontiguousarray(images).tobytes())
    digest.update(np.ascontiguousarray(labels, np.int32).tobytes())
    out[split] = {'count': int(len(labels)), 'shape': [int(d) for d in images.shape[1:]],
                  'dtype': str(images.dtype), 'hash': digest.hexdigest(),
                  'labels': [int(labels.min()), int(labels.max())] if len(labels) else []}
  return out


def raise_errors(findings: list[Finding], name: str):
  """A one-line DataError with the first (most basic) error, and how many more there are."""
  errors = [f.message for f in findings if f.level == ERROR]
  if errors:
    more = (f' ({len(errors) - 1} more: python launch/check_data.py --config=... lists them)'
            if len(errors) > 1 else '')
    raise DataError(f'{name}: {errors[0]}{more}')


def chance_warning(test_accuracy: float, num_classes: int) -> str | None:
  """A warning when a finished run's test accuracy (percent) is no better than guessing."""
  chance = 100.0 / num_classes
  if test_accuracy > chance:
    return None
  return (f'test accuracy {test_accuracy:.2f}% is at or below chance ({chance:.2f}% for '
          f'{num_classes} classes): the depth found means nothing; check the data with python '
          'launch/check_data.py --config=<this run\'s config> before trusting it')


def run_warnings(data_warnings: list[str], test_accuracy: float, num_classes: int) -> list[str]:
  """What a finished run reports as warnings: the data checks' and the chance check's."""
  chance = chance_warning(test_accuracy, num_classes)
  return list(data_warnings) + ([chance] if chance else [])
