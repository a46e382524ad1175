"""The data layer: TFDS (mocked and real, prepared offline), IDX, npz, digits, batching."""

import contextlib
import gzip
import os
import socket
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path
from unittest import mock

import chex
import numpy as np
import pytest
import tensorflow_datasets as tfds
from tensorflow_datasets.core import dataset_builder

from odn_jax import data
from odn_jax.config import defaults
from odn_jax.data import idx, offline, pipeline, sources

import helpers

FASHION_DIR = '/usr/share/datasets/fashion-mnist'
ROOT = Path(__file__).resolve().parents[1]

# name -> (image shape, classes, label offset, mean, std, augment): the reference settings.
TFDS_DATASETS = {
    'mnist': ((28, 28, 1), 10, 0, (0.1307,), (0.3081,), False),
    'emnist/letters': ((28, 28, 1), 26, -1, (0.1307,), (0.3081,), False),
    'fashion_mnist': ((28, 28, 1), 10, 0, (0.2860,), (0.3530,), False),
    'svhn_cropped': ((32, 32, 3), 10, 0, (0.4377, 0.4438, 0.4728), (0.198, 0.201, 0.197), False),
    'cifar10': ((32, 32, 3), 10, 0, (0.4914, 0.4822, 0.4465), (0.247, 0.2435, 0.2616), True),
}


def config_for(name='digits', source=None, **data_overrides):
  config = defaults.base_config()
  config.data.name = name
  config.data.source = source or ('digits' if name == 'digits' else 'tfds')
  config.batch_size = 16
  config.eval_batch_size = 32
  config.data.update(data_overrides)
  return config


def letters_source(builder, split, *args, **kwargs):
  """EMNIST letters as TFDS serves them: labels 1..26 (its mock would draw from 37 classes),
  every class in the first 40 (the training split), so the class coverage check passes."""
  del builder, args, kwargs
  rng = np.random.default_rng(len(split))
  return [{'image': rng.integers(0, 256, (28, 28, 1), dtype=np.uint8),
           'label': 1 + i % 26} for i in range(60)]


@pytest.mark.parametrize('name', sorted(TFDS_DATASETS))
def test_tfds_datasets_through_mock_data(name):
  shape, classes, offset, mean, std, augment = TFDS_DATASETS[name]
  # Mocked data needs no download (and offline, the check that hosts resolve would refuse).
  config = config_for(name, num_train=40, num_val=12, num_classes=classes, label_offset=offset,
                      mean=mean, std=std, augment=augment, download=False)
  with tfds.testing.mock_data(num_examples=60, as_data_source_fn=(
      letters_source if name == 'emnist/letters' else None)):
    ds = data.load(config)
  assert ds.input_shape == shape
  assert ds.num_examples == {'train': 40, 'validation': 12, 'test': 60}
  batch = next(iter(ds.train_batches(0)))
  chex.assert_shape(batch['image'], (16, *shape))
  assert batch['image'].dtype == np.float32 and batch['label'].dtype == np.int32
  for images, labels in ds.splits.values():
    assert images.dtype == np.uint8 and 0 <= labels.min() and labels.max() < classes
  # Normalisation: (x / 255 - mean) / std, per channel.
  raw = ds.splits['validation'][0][:2]
  first = next(iter(ds.eval_batches('validation')))
  expected = (raw / 255.0 - np.array(mean)) / np.array(std)
  np.testing.assert_allclose(first['image'][:2], expected, rtol=1e-5, atol=1e-5)
  names = tfds.builder(name).info.features['label'].names
  assert ds.class_names == names[-offset:][:classes]  # class i is the source's label i - offset


def test_class_names_of_every_source():
  fashion = config_for('fashion_mnist', download=False)
  assert sources.class_names(fashion.data)[:2] == ['T-shirt/top', 'Trouser']
  assert sources.class_names(config_for('digits').data) == [str(i) for i in range(10)]
  assert sources.class_names(config_for('x', source='npz').data) is None  # files carry none
  # Classes the config does not line up with the source's names: indices, not wrong names.
  assert sources.class_names(config_for('fashion_mnist', num_classes=11).data) is None


@pytest.fixture(scope='module')
def fashion_mnist_dir(tmp_path_factory):
  if not os.path.isdir(FASHION_DIR):
    pytest.skip(f'{FASHION_DIR} is absent: apt-get install dataset-fashion-mnist')
  data_dir = str(tmp_path_factory.mktemp('tfds'))
  sizes = offline.import_dataset('fashion_mnist', FASHION_DIR, data_dir)
  assert sizes == {'train': 60_000, 'test': 10_000}
  return data_dir


def test_real_fashion_mnist_prepared_offline(fashion_mnist_dir):
  config = config_for('fashion_mnist', data_dir=fashion_mnist_dir, mean=(0.2860,),
                      std=(0.3530,))
  ds = data.load(config)
  assert ds.num_examples == {'train': 50_000, 'validation': 10_000, 'test': 10_000}
  assert ds.num_classes == 10 and ds.input_shape == (28, 28, 1)
  assert set(np.unique(ds.splits['train'][1])) == set(range(10))
  images = pipeline.normalize(ds.splits['train'][0], config.data.mean, config.data.std)
  assert abs(images.mean()) < 0.01 and abs(images.std() - 1) < 0.01


def test_unprepared_tfds_dataset_names_the_import_command(tmp_path):
  config = config_for('fashion_mnist', data_dir=str(tmp_path), download=False)
  with pytest.raises(data.DataError, match='launch/import_data.py --dataset=fashion_mnist'):
    data.load(config)


def test_offline_import_refuses_a_foreign_file(tmp_path):
  for name in ('t10k-images-idx3-ubyte.gz', 't10k-labels-idx1-ubyte.gz',
               'train-images-idx3-ubyte.gz', 'train-labels-idx1-ubyte.gz'):
    (tmp_path / name).write_bytes(b'not the dataset')
  with pytest.raises(data.DataError, match='not the original file'):
    offline.import_dataset('fashion_mnist', str(tmp_path), str(tmp_path / 'tfds'))


def test_same_seed_same_batches_and_epochs_differ():
  config = config_for(augment=True)
  first, second = data.load(config), data.load(config)
  epoch0 = list(first.train_batches(0))
  chex.assert_trees_all_equal(epoch0, list(second.train_batches(0)))
  assert not np.array_equal(epoch0[0]['label'], next(iter(first.train_batches(1)))['label'])
  # Asking for epoch 3 directly gives what a loader that ran epochs 0..2 gives next.
  for epoch in range(3):
    list(first.train_batches(epoch))
  chex.assert_trees_all_equal(list(first.train_batches(3)), list(second.train_batches(3)))
  config.seed = 1
  other_seed = data.load(config)
  assert not np.array_equal(epoch0[0]['label'], next(iter(other_seed.train_batches(0)))['label'])


def test_digits_split_is_fixed_stratified_and_complete():
  ds = data.load(config_for())
  assert ds.num_examples == {'train': 1077, 'validation': 360, 'test': 360}
  assert ds.input_shape == (8, 8, 1)
  for _, labels in ds.splits.values():
    counts = np.bincount(labels, minlength=10)
    assert counts.min() >= 0.8 * counts.max()  # stratified: every class about equally


def test_eval_batches_cover_the_split_once_with_padding_masked():
  ds = data.load(config_for())
  batches = list(ds.eval_batches('test'))
  assert all(b['image'].shape[0] == 32 for b in batches)
  assert sum(b['mask'].sum() for b in batches) == 360
  labels = np.concatenate([b['label'][b['mask'] > 0] for b in batches])
  np.testing.assert_array_equal(labels, ds.splits['test'][1])


def test_train_batches_drop_the_remainder_and_see_each_example_once():
  ds = data.load(config_for())
  labels = [b['label'] for b in ds.train_batches(0)]
  assert len(labels) == ds.steps_per_epoch == 1077 // 16


def test_random_crop_flip():
  images = np.arange(2 * 4 * 4, dtype=np.uint8).reshape(2, 4, 4, 1)
  centred = pipeline.random_crop_flip(images, np.full((2, 2), pipeline.PAD), np.zeros(2, bool))
  np.testing.assert_array_equal(centred, images)
  flipped = pipeline.random_crop_flip(images, np.full((2, 2), pipeline.PAD), np.ones(2, bool))
  np.testing.assert_array_equal(flipped, images[:, :, ::-1])
  corner = pipeline.random_crop_flip(images, np.zeros((2, 2), int), np.zeros(2, bool))
  assert corner.sum() == 0  # a 4x4 image padded by 4: the top-left window is all padding
  np.testing.assert_array_equal(
      pipeline.random_crop_flip(images, np.array([[5, 6], [4, 4]]), np.zeros(2, bool))[0, 0, 0],
      images[0, 1, 2])


def _write_idx_folder(folder, n_train=30, n_test=10, classes=10):
  rng = np.random.default_rng(0)
  os.makedirs(folder, exist_ok=True)
  # Labels cycle through the classes: every class is in any 20 consecutive examples.
  arrays = {'train': (rng.integers(0, 256, (n_train, 6, 6), dtype=np.uint8),
                      (np.arange(n_train) % classes).astype(np.uint8)),
            'test': (rng.integers(0, 256, (n_test, 6, 6), dtype=np.uint8),
                     (np.arange(n_test) % classes).astype(np.uint8))}
  for split, (images_file, labels_file) in idx.IDX_FILES.items():
    helpers.write_idx(os.path.join(folder, images_file + '.gz'), arrays[split][0])
    helpers.write_idx(os.path.join(folder, labels_file), arrays[split][1])
  return arrays


def test_idx_folder_round_trip(tmp_path):
  arrays = _write_idx_folder(str(tmp_path))
  ds = data.load(config_for('mine', 'idx', path=str(tmp_path), num_train=20, num_val=10))
  np.testing.assert_array_equal(ds.splits['train'][0][..., 0], arrays['train'][0][:20])
  np.testing.assert_array_equal(ds.splits['validation'][1], arrays['train'][1][20:])
  np.testing.assert_array_equal(ds.splits['test'][1], arrays['test'][1])


def test_npz_round_trip_with_and_without_validation(tmp_path):
  rng = np.random.default_rng(0)
  x = rng.integers(0, 256, (40, 5, 5, 3), dtype=np.uint8)
  y = rng.integers(0, 10, 40)
  rgb = dict(mean=(0.5,) * 3, std=(0.25,) * 3)
  np.savez(tmp_path / 'a.npz', x_train=x[:30], y_train=y[:30], x_test=x[30:], y_test=y[30:])
  ds = data.load(config_for('mine', 'npz', path=str(tmp_path / 'a.npz'), num_train=24,
                            num_val=0, **rgb))
  assert ds.num_examples == {'train': 24, 'validation': 6, 'test': 10}
  np.testing.assert_array_equal(ds.splits['validation'][0], x[24:30])
  np.savez(tmp_path / 'b.npz', x_train=x[:20], y_train=y[:20], x_val=x[20:30], y_val=y[20:30],
           x_test=x[30:], y_test=y[30:])
  ds = data.load(config_for('mine', 'npz', path=str(tmp_path / 'b.npz'), **rgb))
  assert ds.num_examples == {'train': 20, 'validation': 10, 'test': 10}


@pytest.mark.parametrize('arrays,message', [
    ({'x_train': np.zeros((4, 5, 5, 2), np.uint8)}, r'expected \[N, H, W\] or \[N, H, W, C\]'),
    ({'x_train': np.zeros((4, 5, 5), np.float32)}, 'images are float32; expected uint8'),
    ({'y_train': np.array([0, 1, 2, 10])},
     r'train split: labels \(after offset 0\) span 0..10; expected 0..9'),
    ({'y_train': np.array([0, 1])}, '4 images but labels of shape'),
])
def test_bad_npz_files_are_refused_with_what_was_found(tmp_path, arrays, message):
  good = {'x_train': np.zeros((4, 5, 5), np.uint8), 'y_train': np.array([0, 1, 2, 3]),
          'x_test': np.zeros((2, 5, 5), np.uint8), 'y_test': np.array([0, 1])}
  np.savez(tmp_path / 'bad.npz', **{**good, **arrays})
  with pytest.raises(data.DataError, match=message):
    data.load(config_for('mine', 'npz', path=str(tmp_path / 'bad.npz'), num_train=2, num_val=2))


def test_bad_idx_files_are_refused(tmp_path):
  _write_idx_folder(str(tmp_path))
  (tmp_path / 't10k-labels-idx1-ubyte').write_bytes(b'\x00\x00\x0c\x01')
  with pytest.raises(data.DataError, match='not an IDX file'):
    data.load(config_for('mine', 'idx', path=str(tmp_path), num_train=20, num_val=10))
  with pytest.raises(data.DataError, match='does not exist'):
    data.load(config_for('mine', 'idx', path=str(tmp_path / 'nowhere')))


def test_unknown_source_and_channel_mismatch_are_refused():
  with pytest.raises(data.DataError, match='config.data.source must be one of'):
    data.load(config_for(source='ftp'))
  with pytest.raises(data.DataError, match='one per channel'):
    data.load(config_for(mean=(0.5, 0.5, 0.5), std=(0.2, 0.2, 0.2)))


# --- TFDS downloads when config.data.download allows it (TFDS's own mocking) -------------


def _unprepared_tfds(download_and_prepare, resolves=True):
  """mock_data's random MNIST, its builder reporting "not prepared", `download_and_prepare`
  in place of TFDS's, host names resolving (or not), and a spy on tfds.data_source."""

  def getaddrinfo(host, port, *args, **kwargs):
    if not resolves:
      raise socket.gaierror(-2, 'Name or service not known')
    return [(socket.AF_INET, socket.SOCK_STREAM, 6, '', ('192.0.2.1', port))]

  patches = contextlib.ExitStack()
  patches.enter_context(tfds.testing.mock_data(num_examples=60))
  patches.enter_context(mock.patch.multiple(
      dataset_builder.DatasetBuilder, is_prepared=lambda self: False,
      download_and_prepare=download_and_prepare))
  patches.enter_context(mock.patch.object(socket, 'getaddrinfo', getaddrinfo))
  for variable in sources.PROXY_VARIABLES:
    patches.enter_context(mock.patch.dict(os.environ, {variable: ''}))
  return patches, mock.patch.object(tfds, 'data_source', wraps=tfds.data_source)


def test_tfds_downloads_and_prepares_when_allowed():
  prepared = []
  patches, spy = _unprepared_tfds(lambda self, **kw: prepared.append(self.name))
  with patches, spy as data_source:
    ds = data.load(config_for('mnist', num_train=40, num_val=12))
  assert defaults.base_config().data.download is True
  assert [c.kwargs['download'] for c in data_source.call_args_list] == [True, True]
  assert prepared == ['mnist', 'mnist']  # TFDS's download_and_prepare: a no-op once prepared
  assert ds.num_examples == {'train': 40, 'validation': 12, 'test': 60}


def test_tfds_download_off_never_downloads():
  prepared = []
  patches, spy = _unprepared_tfds(lambda self, **kw: prepared.append(self.name))
  with patches, spy as data_source:
    data.load(config_for('mnist', num_train=40, num_val=12, download=False))
  assert [c.kwargs['download'] for c in data_source.call_args_list] == [False, False]
  assert not prepared


def test_tfds_download_failure_is_one_line_naming_the_offline_import():
  def refused(self, **kwargs):
    raise ConnectionError("HTTPSConnectionPool(host='storage.googleapis.com', port=443): Max "
                          'retries exceeded\nwith url: /tfds-data/datasets/mnist\n(Caused by '
                          'ConnectTimeoutError)')

  patches, spy = _unprepared_tfds(refused)
  with patches, spy, pytest.raises(data.DataError) as error:
    data.load(config_for('mnist', num_train=40, num_val=12, data_dir='/data/tfds'))
  message = str(error.value)
  assert '\n' not in message
  assert 'could not download and prepare' in message and 'ConnectionError' in message
  assert message.endswith('python launch/import_data.py --dataset=mnist '
                          '--source_dir=DIR_WITH_ORIGINAL_FILES --data_dir=/data/tfds')


def test_tfds_without_network_fails_at_once_before_downloading():
  """Offline, TFDS would retry each file for minutes: unresolvable hosts end it first."""
  prepared = []
  patches, spy = _unprepared_tfds(lambda self, **kw: prepared.append(self.name),
                                  resolves=False)
  with patches, spy, pytest.raises(data.DataError) as error:
    data.load(config_for('mnist', num_train=40, num_val=12))
  assert not prepared
  message = str(error.value)
  assert '\n' not in message
  assert 'storage.googleapis.com does not resolve (no network)' in message
  assert 'python launch/import_data.py --dataset=mnist' in message
  # Behind a proxy, names need not resolve locally: TFDS is left to try.
  patches, spy = _unprepared_tfds(lambda self, **kw: prepared.append(self.name),
                                  resolves=False)
  with patches, spy, mock.patch.dict(os.environ, {'HTTPS_PROXY': 'http://proxy:3128'}):
    data.load(config_for('mnist', num_train=40, num_val=12))
  assert prepared == ['mnist', 'mnist']


# --- The last partial training batch (config.data.drop_last) -----------------------------


def test_epoch_batch_sizes():
  assert pipeline.epoch_batch_sizes(1077, 16, drop_last=True) == [16] * 67
  assert pipeline.epoch_batch_sizes(1077, 16, drop_last=False) == [16] * 67 + [5]
  # On a mesh the partial batch keeps the largest multiple of the device count.
  assert pipeline.epoch_batch_sizes(1077, 16, drop_last=False, num_devices=4) == [16] * 67 + [4]
  assert pipeline.epoch_batch_sizes(1077, 16, drop_last=False, num_devices=8) == [16] * 67
  assert pipeline.epoch_batch_sizes(10, 16, drop_last=False) == [10]
  assert pipeline.epoch_batch_sizes(1072, 16, drop_last=False) == [16] * 67


def _indexed_dataset(n, drop_last, num_devices=1, seed=0):
  """Labels 0..n-1: each batch's labels say which examples it holds."""
  images = np.zeros((n, 2, 2, 1), np.uint8)
  return pipeline.Dataset('ids', {'train': (images, np.arange(n, dtype=np.int32))}, n, (0.,),
                          (1.,), 16, 16, seed, prefetch=0, drop_last=drop_last,
                          num_devices=num_devices)


def test_keeping_the_last_batch_sees_every_example_once_per_epoch():
  ds = _indexed_dataset(100, drop_last=False)
  assert ds.steps_per_epoch == 7  # ceil(100 / 16)
  for epoch in range(2):
    batches = [b['label'] for b in ds.train_batches(epoch)]
    assert [len(b) for b in batches] == [16] * 6 + [4]
    assert sorted(np.concatenate(batches)) == list(range(100))
  dropped = _indexed_dataset(100, drop_last=True)
  assert dropped.steps_per_epoch == 6
  assert len(np.unique(np.concatenate([b['label'] for b in dropped.train_batches(0)]))) == 96


def test_partial_batch_is_a_function_of_seed_and_epoch_and_splits_over_devices():
  first, second = _indexed_dataset(103, False, 2), _indexed_dataset(103, False, 2)
  last = lambda ds, epoch: list(ds.train_batches(epoch))[-1]['label']
  for epoch in range(3):
    list(first.train_batches(epoch))
  chex.assert_trees_all_equal(list(first.train_batches(3)), list(second.train_batches(3)))
  assert len(last(first, 0)) == 6  # 103 = 6 * 16 + 7: six of the seven split over 2 devices
  assert not np.array_equal(last(first, 0), last(first, 1))  # a new leftover every epoch
  assert not np.array_equal(last(first, 0), last(_indexed_dataset(103, False, 2, seed=1), 0))


def test_drop_last_config_key_reaches_the_pipeline():
  ds = data.load(config_for(drop_last=False))
  assert ds.steps_per_epoch == 68 and len(list(ds.train_batches(0))[-1]['label']) == 5
  assert data.load(config_for()).steps_per_epoch == 67


def test_partial_batch_shards_over_a_4_device_mesh():
  code = textwrap.dedent('''
      import jax
      from odn_jax import data
      from odn_jax.config import defaults
      from odn_jax.run import parallel
      assert jax.device_count() == 4
      config = defaults.base_config()
      config.data.source = config.data.name = 'digits'
      config.batch_size, config.eval_batch_size = 16, 32
      config.data.drop_last = False
      ds = data.load(config)
      mesh = parallel.make_mesh()
      sizes = [parallel.shard_batch(b, mesh)['label'].shape[0] for b in ds.train_batches(0)]
      print(sizes[-1], len(sizes), ds.steps_per_epoch)
  ''')
  env = {**os.environ, 'XLA_FLAGS': '--xla_force_host_platform_device_count=4',
         'JAX_PLATFORMS': 'cpu'}
  out = subprocess.run([sys.executable, '-c', code], cwd=ROOT, env=env, capture_output=True,
                       text=True, timeout=300, check=False)
  assert out.returncode == 0, out.stderr[-2000:]
  assert out.stdout.split() == ['4', '68', '68']  # 1077 = 67 * 16 + 5: four of five kept


# --- EMNIST letters from NIST's original gzip IDX files ----------------------------------

EMNIST_NAMES = {'train': ('emnist-letters-train-images-idx3-ubyte.gz',
                          'emnist-letters-train-labels-idx1-ubyte.gz'),
                'test': ('emnist-letters-test-images-idx3-ubyte.gz',
                         'emnist-letters-test-labels-idx1-ubyte.gz')}


def _write_emnist(folder, prefix='emnist-letters', n_train=260, n_test=52, seed=0):
  """EMNIST-letters-like gzip IDX files: labels 1..26, shuffled, every class present."""
  rng = np.random.default_rng(seed)
  arrays = {}
  for split, n in (('train', n_train), ('test', n_test)):
    labels = rng.permutation(np.arange(n) % 26 + 1).astype(np.uint8)
    images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
    helpers.write_idx(os.path.join(folder, f'{prefix}-{split}-images-idx3-ubyte.gz'), images)
    helpers.write_idx(os.path.join(folder, f'{prefix}-{split}-labels-idx1-ubyte.gz'), labels)
    arrays[split] = images, labels
  return arrays


def emnist_idx_config(path, num_train=208, num_val=52):
  """As configs/emnist.py on the original files: the last num_val training images validate
  (124,800 = 114,800 + 10,000 at full size)."""
  return config_for('emnist/letters', 'idx', path=path, num_classes=26, label_offset=-1,
                    num_train=num_train, num_val=num_val)


def test_emnist_letters_original_gzip_files(tmp_path):
  arrays = _write_emnist(str(tmp_path))
  for name in (n for pair in EMNIST_NAMES.values() for n in pair):
    with open(tmp_path / name, 'rb') as f:
      assert f.read(2) == b'\x1f\x8b'  # gzip, as NIST ships them
  ds = data.load(emnist_idx_config(str(tmp_path)))
  assert ds.num_examples == {'train': 208, 'validation': 52, 'test': 52}
  assert ds.input_shape == (28, 28, 1) and ds.num_classes == 26
  # Held out: the last 52 of the training file, labels shifted 1..26 -> 0..25.
  np.testing.assert_array_equal(ds.splits['validation'][0][..., 0], arrays['train'][0][208:])
  np.testing.assert_array_equal(ds.splits['validation'][1], arrays['train'][1][208:] - 1)
  np.testing.assert_array_equal(ds.splits['test'][1], arrays['test'][1] - 1)
  assert ds.splits['train'][1].min() == 0 and ds.splits['train'][1].max() == 25


def test_emnist_split_chosen_by_name_in_nist_archive(tmp_path):
  """NIST's gzip.zip holds every EMNIST split under gzip/: config.data.name picks one."""
  folder = tmp_path / 'gzip'
  folder.mkdir()
  letters = _write_emnist(str(folder))
  _write_emnist(str(folder), prefix='emnist-balanced', seed=1)
  archive = tmp_path / 'gzip.zip'
  with zipfile.ZipFile(archive, 'w') as z:
    for name in sorted(os.listdir(folder)):
      z.write(folder / name, f'gzip/{name}')
  config = emnist_idx_config(str(archive))
  for path in (str(folder), str(archive)):
    config.data.path = path
    ds = data.load(config)
    np.testing.assert_array_equal(ds.splits['test'][1], letters['test'][1] - 1)
  config.data.name = 'emnist'
  with pytest.raises(data.DataError, match='several train images files.*--config.data.name'):
    data.load(config)


def test_idx_files_without_their_labels_are_refused(tmp_path):
  _write_emnist(str(tmp_path))
  os.remove(tmp_path / 'emnist-letters-test-labels-idx1-ubyte.gz')
  with pytest.raises(data.DataError, match='no labels file beside it'):
    data.load(emnist_idx_config(str(tmp_path)))
  with gzip.open(tmp_path / 'emnist-letters-test-labels-idx1-ubyte.gz', 'wb') as f:
    f.write(b'\x00\x00\x08\x01\x00\x00\x00\x09' + bytes(3))
  with pytest.raises(data.DataError, match=r'header says shape \(9,\) but holds 3 values'):
    data.load(emnist_idx_config(str(tmp_path)))
