"""The data layer: TFDS (mocked and real, prepared offline), IDX, npz, digits, batching."""

import os

import chex
import numpy as np
import pytest
import tensorflow_datasets as tfds

from odn_jax import data, defaults
from odn_jax.data import idx, offline, pipeline

FASHION_DIR = '/usr/share/datasets/fashion-mnist'

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
  """EMNIST letters as TFDS serves them: labels 1..26 (its mock would draw from 37 classes)."""
  del builder, args, kwargs
  rng = np.random.default_rng(len(split))
  return [{'image': rng.integers(0, 256, (28, 28, 1), dtype=np.uint8),
           'label': int(rng.integers(1, 27))} for _ in range(60)]


@pytest.mark.parametrize('name', sorted(TFDS_DATASETS))
def test_tfds_datasets_through_mock_data(name):
  shape, classes, offset, mean, std, augment = TFDS_DATASETS[name]
  config = config_for(name, num_train=40, num_val=12, num_classes=classes, label_offset=offset,
                      mean=mean, std=std, augment=augment)
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
  config = config_for('fashion_mnist', data_dir=str(tmp_path))
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
  other_seed = data.load(config, seed=1)
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
  arrays = {'train': (rng.integers(0, 256, (n_train, 6, 6), dtype=np.uint8),
                      rng.integers(0, classes, n_train, dtype=np.uint8)),
            'test': (rng.integers(0, 256, (n_test, 6, 6), dtype=np.uint8),
                     rng.integers(0, classes, n_test, dtype=np.uint8))}
  for split, (images_file, labels_file) in idx.IDX_FILES.items():
    idx.write_idx(os.path.join(folder, images_file + '.gz'), arrays[split][0])
    idx.write_idx(os.path.join(folder, labels_file), arrays[split][1])
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
