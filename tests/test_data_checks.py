"""The data checks (odn_jax.data.checks): each mistake on a tiny constructed dataset, and the
message it gets; clean data gets none."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from odn_jax import data
from odn_jax.config import defaults
from odn_jax.data import checks
from odn_jax.results import markdown, summary as summary_lib
from odn_jax.train import loop as trainer

ROOT = Path(__file__).resolve().parents[1]
CLASSES = 10


def distinct_images(n, seed=0, size=6):
  """n random uint8 images, no two alike (the overlap check counts identical ones)."""
  return np.random.default_rng(seed).integers(0, 256, (n, size, size), dtype=np.uint8)


def shuffled_labels(n, seed=0):
  """Every class equally often, in a shuffled order."""
  return np.random.default_rng(seed).permutation(np.arange(n) % CLASSES)


def sorted_labels(n):
  return np.sort(np.arange(n) % CLASSES)


def write_npz(path, **arrays):
  np.savez(path, **arrays)
  return str(path)


def npz_config(path, num_train=0, num_val=0, batch_size=16, **data_overrides):
  config = defaults.base_config()
  config.data.update(source='npz', name='mine', path=str(path), num_train=num_train,
                     num_val=num_val, **data_overrides)
  config.batch_size, config.eval_batch_size = batch_size, 32
  return config


def clean(n_train=400, n_test=200, **extra):
  """A well-formed npz's arrays: distinct images, shuffled balanced labels."""
  images = distinct_images(n_train + n_test)
  return {'x_train': images[:n_train], 'y_train': shuffled_labels(n_train),
          'x_test': images[n_train:], 'y_test': shuffled_labels(n_test, seed=1), **extra}


def levels(ds_or_findings):
  findings = getattr(ds_or_findings, 'findings', ds_or_findings)
  return {f.level for f in findings}


# --- Ordered data: a class-sorted file cut by position ------------------------------------


def test_class_sorted_npz_stops_before_training(tmp_path):
  """Issue 17's case: sorted labels, validation cut from train by position. The run stops
  before it trains, saying why and how to fix it; nothing is written to the workdir."""
  images = distinct_images(1200)
  path = write_npz(tmp_path / 'sorted.npz', x_train=images[:1000], y_train=sorted_labels(1000),
                   x_test=images[1000:], y_test=shuffled_labels(200))
  config = npz_config(path, num_train=800, num_val=200)
  with pytest.raises(data.DataError) as error:
    data.load(config)
  message = str(error.value)
  assert message.startswith("npz data 'mine': the npz training split's labels are sorted by "
                            'class (mean run 100 examples; about 1.1 in a shuffled order)')
  assert 'train (num_train=800) and validation (num_val=200) are cut from it by position' in message
  assert '--config.data.split_seed=0' in message and '\n' not in message
  assert '(2 more: python launch/check_data.py' in message  # classes 8, 9 never trained
  workdir = tmp_path / 'run'
  with pytest.raises(data.DataError, match='sorted by class'):
    trainer.train_and_evaluate(config, str(workdir), quiet=True)
  assert not (workdir / 'checkpoints').exists() and not (workdir / 'history.json').exists()


def test_recorded_shuffle_before_the_cut_fixes_a_sorted_file(tmp_path):
  images = distinct_images(1200)
  path = write_npz(tmp_path / 'sorted.npz', x_train=images[:1000], y_train=sorted_labels(1000),
                   x_test=images[1000:], y_test=shuffled_labels(200))
  ds = data.load(npz_config(path, num_train=800, num_val=200, split_seed=0))
  assert ds.warnings == []
  for split in ('train', 'validation'):
    counts = checks.histogram(ds.splits[split][1], CLASSES)
    assert counts.min() >= 0.5 * counts.max()  # every class, about equally
  assert any('shuffled with config.data.split_seed=0' in f.message for f in ds.findings)
  again = data.load(npz_config(path, num_train=800, num_val=200, split_seed=0))
  np.testing.assert_array_equal(ds.splits['validation'][0], again.splits['validation'][0])
  other = data.load(npz_config(path, num_train=800, num_val=200, split_seed=1))
  assert not np.array_equal(ds.splits['validation'][0], other.splits['validation'][0])
  # The split is a shuffle of the file: every training example lands in exactly one piece.
  seen = np.concatenate([ds.splits['train'][0], ds.splits['validation'][0]])
  assert len({im.tobytes() for im in seen}) == 1000


def test_sorted_file_whose_test_split_is_its_tail(tmp_path):
  """The test split cut from the same sorted array: shuffling train cannot help; the
  message says the source itself was split by class."""
  images, labels = distinct_images(1000), sorted_labels(1000)
  path = write_npz(tmp_path / 'sorted.npz', x_train=images[:800], y_train=labels[:800],
                   x_test=images[800:], y_test=labels[800:])
  _, findings = data.inspect(npz_config(path, num_train=640, num_val=160, split_seed=0))
  errors = [f.message for f in findings if f.level == checks.ERROR]
  assert errors == [
      'the test split has classes training cannot learn: classes 8, 9 are absent from train '
      '(100, 100 examples in test); its accuracy cannot reach what the search aims for; fix: '
      "the source's own training split lacks them too, so its train and test hold different "
      'classes: shuffle the data before splitting it into train and test, or check '
      'config.data.num_classes / label_offset']


def test_long_runs_of_one_class_are_ordered_data(tmp_path):
  images = distinct_images(1200)
  runs = np.repeat(np.tile(np.arange(CLASSES), 2), 50)  # 0 x50, 1 x50, ..., 9 x50, 0 x50, ...
  path = write_npz(tmp_path / 'runs.npz', x_train=images[:1000], y_train=runs,
                   x_test=images[1000:], y_test=shuffled_labels(200))
  with pytest.raises(data.DataError, match=r'labels come in runs of one class \(mean run 50'):
    data.load(npz_config(path, num_train=800, num_val=200))


def test_short_runs_mix_within_the_pieces_and_pass(tmp_path):
  images = distinct_images(1200)
  runs = np.repeat(np.tile(np.arange(CLASSES), 50), 2)  # runs of 2: well mixed at this scale
  path = write_npz(tmp_path / 'runs.npz', x_train=images[:1000], y_train=runs,
                   x_test=images[1000:], y_test=shuffled_labels(200))
  ds = data.load(npz_config(path, num_train=800, num_val=200))
  assert ds.warnings == [] and checks.ERROR not in levels(ds)


def test_order_is_not_checked_where_nothing_is_cut_by_position(tmp_path):
  images = distinct_images(1400)
  path = write_npz(tmp_path / 'own_val.npz', x_train=images[:1000], y_train=sorted_labels(1000),
                   x_val=images[1000:1200], y_val=shuffled_labels(200),
                   x_test=images[1200:], y_test=shuffled_labels(200, seed=2))
  assert data.load(npz_config(path)).warnings == []  # training order is shuffled per epoch
  with pytest.raises(data.DataError, match='train_subset=300 takes its head'):
    data.load(npz_config(path, train_subset=300))


# --- Class coverage ------------------------------------------------------------------------


def test_class_absent_from_train(tmp_path):
  arrays = clean()
  arrays['y_train'] = np.where(arrays['y_train'] == 9, 8, arrays['y_train'])
  x_val = distinct_images(100, seed=5)
  path = write_npz(tmp_path / 'a.npz', x_val=x_val, y_val=shuffled_labels(100), **arrays)
  with pytest.raises(data.DataError) as error:
    data.load(npz_config(path))
  assert str(error.value) == (
      "npz data 'mine': the validation split has classes training cannot learn: class 9 is "
      'absent from train (10 examples in validation); its accuracy cannot reach what the '
      "search aims for; fix: the source's own training split lacks them too, so its train "
      'and validation hold different classes: shuffle the data before splitting it into '
      'train and validation, or check config.data.num_classes / label_offset (1 more: python '
      'launch/check_data.py --config=... lists them)')


def test_class_nearly_absent_from_train(tmp_path):
  arrays = clean(n_train=1000)
  threes = np.flatnonzero(arrays['y_train'] == 3)
  arrays['y_train'][threes[2:]] = 4  # 2 of 1,000 left, where the test split predicts 100
  path = write_npz(tmp_path / 'a.npz', **arrays)
  _, findings = data.inspect(npz_config(path, num_train=800, num_val=200))
  assert findings[0].level == checks.ERROR
  assert 'the test split has classes training cannot learn: class 3 is nearly absent from ' \
         'train (2 of 800 examples, against 20 of 200 in test)' in findings[0].message
  # The file's own training split lacks them: shuffling before the cut cannot help.
  assert findings[0].message.endswith("fix: the source's own training split lacks them too, "
                                      'so its train and test hold different classes: shuffle '
                                      'the data before splitting it into train and test, or '
                                      'check config.data.num_classes / label_offset')


def test_strongly_different_class_frequencies_warn_with_the_frequencies(tmp_path):
  arrays = clean(n_train=1000, n_test=400, x_val=distinct_images(200, seed=3),
                 y_val=shuffled_labels(200))
  arrays['y_train'] = np.arange(1000) % CLASSES
  arrays['y_test'] = np.concatenate([np.zeros(200, int), np.arange(200) % CLASSES])
  path = write_npz(tmp_path / 'a.npz', **arrays)
  ds = data.load(npz_config(path))
  [warning] = ds.warnings
  assert warning == (
      'class frequencies differ between train and test (total variation 0.45; sampling '
      'explains about 0.07): train % 0:10.0 1:10.0 2:10.0 3:10.0 4:10.0 5:10.0 6:10.0 7:10.0 '
      '8:10.0 9:10.0; test % 0:55.0 1:5.0 2:5.0 3:5.0 4:5.0 5:5.0 6:5.0 7:5.0 8:5.0 9:5.0; '
      'its accuracy weighs the classes differently from training; if that is not intended: '
      'shuffle the data before splitting it')


def test_sampling_noise_in_small_splits_is_no_warning(tmp_path):
  rng = np.random.default_rng(3)
  arrays = clean(n_train=300, n_test=40)
  arrays['y_test'] = rng.integers(0, CLASSES, 40)  # a random 40: frequencies off by chance
  arrays['y_test'][:CLASSES] = np.arange(CLASSES)
  path = write_npz(tmp_path / 'a.npz', **arrays)
  assert data.load(npz_config(path, num_train=240, num_val=60)).warnings == []


# --- Overlap -------------------------------------------------------------------------------


def test_test_images_that_are_training_images(tmp_path):
  arrays = clean()
  arrays['x_test'][:20] = arrays['x_train'][100:120]  # 20 of 200: 10 %
  path = write_npz(tmp_path / 'a.npz', **arrays)
  ds = data.load(npz_config(path, num_train=320, num_val=80))
  # Images 100..119 of the file's train split are in the training piece (the first 320).
  assert ds.warnings == ["20 of the test split's 200 images (10.00%) are byte-identical to a "
                         'training image: its accuracy is not a held-out measure; remove the '
                         'duplicates from test (or from train)']


def test_a_few_shared_images_are_counted_not_warned(tmp_path):
  arrays = clean()
  arrays['x_test'][0] = arrays['x_train'][0]
  path = write_npz(tmp_path / 'a.npz', **arrays)
  ds = data.load(npz_config(path, num_train=320, num_val=80))
  assert ds.warnings == []
  assert checks.Finding(checks.INFO, "1 of the test split's 200 images (0.50%) are "
                        'byte-identical to a training image') in ds.findings


# --- Degenerate splits ---------------------------------------------------------------------


def test_empty_split(tmp_path):
  arrays = clean(x_val=np.zeros((0, 6, 6), np.uint8), y_val=np.zeros(0, np.int64))
  path = write_npz(tmp_path / 'a.npz', **arrays)
  with pytest.raises(data.DataError, match=r"^npz data 'mine': the validation split is empty; "
                     'give the source validation examples'):
    data.load(npz_config(path))


def test_one_class_only(tmp_path):
  arrays = clean()
  arrays['y_train'][:] = 4
  path = write_npz(tmp_path / 'a.npz', **arrays)
  with pytest.raises(data.DataError, match=r'the train split holds one class only \(class 4, '
                     r'320 examples, of 10\): nothing to tell apart'):
    data.load(npz_config(path, num_train=320, num_val=80))
  arrays = clean()
  arrays['y_test'][:] = 4
  path = write_npz(tmp_path / 'b.npz', **arrays)
  ds = data.load(npz_config(path, num_train=320, num_val=80))
  assert ("the test split holds one class only (class 4, 200 examples, of 10): its accuracy "
          'measures that class alone; split the data so every class is in it') in ds.warnings


def test_validation_smaller_than_a_batch(tmp_path):
  path = write_npz(tmp_path / 'a.npz', **clean())
  ds = data.load(npz_config(path, num_train=390, num_val=10, batch_size=16))
  assert ds.warnings == ['the validation split has 10 examples, fewer than one batch of 16: '
                         'its accuracy moves in steps of 10 points, too coarse to steer the '
                         'search; raise config.data.num_val']


def test_images_all_one_value(tmp_path):
  arrays = clean()
  arrays['x_train'][:] = 0
  path = write_npz(tmp_path / 'a.npz', **arrays)
  with pytest.raises(data.DataError, match='every image of the train split is the single '
                     r'value 0: the pixels were lost \(check how the file was written'):
    data.load(npz_config(path, num_train=320, num_val=80))
  arrays = clean()
  arrays['x_test'][:10] = 255  # 5 % of the test images blank
  path = write_npz(tmp_path / 'b.npz', **arrays)
  ds = data.load(npz_config(path, num_train=320, num_val=80))
  assert ds.warnings == ["10 of the test split's 200 images (5.0%) are a single value "
                         '(blank); check how the file was written']


def test_chance_warning():
  assert checks.chance_warning(10.01, 10) is None
  assert checks.chance_warning(10.0, 10).startswith(
      'test accuracy 10.00% is at or below chance (10.00% for 10 classes)')
  assert 'launch/check_data.py' in checks.chance_warning(0.0, 26)
  assert checks.run_warnings(['w'], 5.0, 26) == ['w']
  assert checks.run_warnings(['w'], 0.5, 100) == ['w', checks.chance_warning(0.5, 100)]


def test_warnings_reach_the_console_text_and_report_md():
  summary = {'dataset': 'mine', 'arch': 'resnet18', 'optimal_depth': 1, 'max_depth': 8,
             'val_accuracy': 40.0, 'test_accuracy': 0.0, 'params_optimal': 10,
             'params_full': 100, 'memory_reduction_pct': 90.0, 'epochs_total': 3,
             'wall_clock_s': 1.0, 'per_depth': [],
             'warnings': checks.run_warnings([], 0.0, 10)}
  text = summary_lib.depth_table_text(summary)
  assert text.splitlines()[-1] == 'warning: ' + checks.chance_warning(0.0, 10)
  assert markdown.warnings_markdown(summary['warnings']) == [
      '', '## Warnings', '', f'- **{checks.chance_warning(0.0, 10)}**']
  assert markdown.warnings_markdown([]) == []


# --- Clean data ----------------------------------------------------------------------------


def test_clean_data_has_no_warnings():
  config = defaults.base_config()
  config.data.source = config.data.name = 'digits'
  ds = data.load(config)
  assert ds.warnings == [] and levels(ds) == {checks.INFO}


def test_real_fashion_mnist_passes_quickly():
  folder = '/usr/share/datasets/fashion-mnist'
  if not os.path.isdir(folder):
    pytest.skip(f'{folder} is absent: apt-get install dataset-fashion-mnist')
  config = defaults.base_config()
  config.data.update(source='idx', path=folder, name='fashion_mnist')
  splits, _ = data.inspect(config)
  raw = data.sources.read(config.data)
  import time  # pylint: disable=g-import-not-at-top
  started = time.perf_counter()
  findings = checks.run(splits, 10, 128, raw['train'][1], cut_by_position=True)
  assert checks.order(raw['train'][1], 'idx', 'they are cut', 10_000) is None
  assert time.perf_counter() - started < 2.0  # about 0.1 s on the development machine
  assert {f.level for f in findings} == {checks.INFO}


# --- launch/check_data.py ------------------------------------------------------------------


def check_data(*args):
  env = {**os.environ, 'JAX_PLATFORMS': 'cpu'}
  return subprocess.run([sys.executable, 'launch/check_data.py', *args], cwd=ROOT, env=env,
                        capture_output=True, text=True, timeout=300, check=False)


def test_check_data_prints_histograms_and_findings(tmp_path):
  images = distinct_images(1200)
  path = write_npz(tmp_path / 'sorted.npz', x_train=images[:1000], y_train=sorted_labels(1000),
                   x_test=images[1000:], y_test=shuffled_labels(200))
  common = ['--config=configs/quickstart.py', '--config.data.source=npz',
            f'--config.data.path={path}', '--config.data.num_train=800',
            '--config.data.num_val=200', '--config.data.name=mine']
  out = check_data(*common)
  assert out.returncode == 2, out.stderr[-2000:]
  lines = out.stdout.splitlines()
  assert lines[0] == f"npz data 'mine' ({path}), images (6, 6, 1), 10 classes"
  assert lines[1].split() == ['class', 'train', 'validation', 'test']
  assert lines[2].split() == ['0', '100', '12.50%', '0', '0.00%', '20', '10.00%']
  assert lines[11].split() == ['9', '0', '0.00%', '100', '50.00%', '20', '10.00%']
  assert lines[12].split() == ['total', '800', '200', '200']
  assert lines[13].startswith("error: the npz training split's labels are sorted by class")
  assert 'a run with this config stops before training' in out.stderr
  out = check_data(*common, '--config.data.split_seed=0')
  assert out.returncode == 0, out.stderr[-2000:]
  assert out.stdout.splitlines()[-1] == 'no errors: a run with this config would start'
  assert 'info: the training split was shuffled with config.data.split_seed=0' in out.stdout


def test_summary_json_carries_a_runs_warnings(tmp_path):
  """A short real run on data with a warning: summary.json's `warnings` holds it."""
  from configs import quickstart  # pylint: disable=g-import-not-at-top
  arrays = clean(n_train=400, n_test=200, x_val=distinct_images(12, seed=7),
                 y_val=np.arange(12) % CLASSES)
  path = write_npz(tmp_path / 'a.npz', **arrays)
  config = quickstart.get_config()
  config.data.update(source='npz', name='mine', path=path)
  config.model.width, config.model.max_depth = 4, 1
  config.warmup.epochs, config.search.patience = 1, 1
  config.search.max_epochs_per_depth, config.search.max_epochs_total = 1, 2
  config.precise_bn_batches = 0
  config.batch_size, config.eval_batch_size = 16, 16
  summary = trainer.train_and_evaluate(config, str(tmp_path / 'run'), quiet=True)
  with open(tmp_path / 'run' / 'summary.json') as f:
    assert json.load(f)['warnings'] == summary['warnings']
  assert summary['warnings'][0].startswith('the validation split has 12 examples, fewer than '
                                           'one batch of 16')
