"""The Python API: `import odn_jax` stays light, and a run's subnet classifies images."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import odn_jax
from odn_jax import data
from odn_jax.deploy import subnet
from odn_jax.models import ResNet, size

ROOT = Path(__file__).resolve().parents[1]


def test_import_loads_no_jax():
  code = 'import sys, odn_jax; print(sorted(m for m in ("jax", "tensorflow_datasets", "flax") if m in sys.modules))'
  out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, check=True,
                       cwd=ROOT)
  assert out.stdout.strip() == '[]'


def test_exports():
  from odn_jax.train import loop as trainer  # pylint: disable=g-import-not-at-top
  assert odn_jax.train_and_evaluate is trainer.train_and_evaluate
  assert odn_jax.load_subnet is subnet.load_subnet
  assert {'train_and_evaluate', 'load_subnet', 'get_config', 'describe'} <= set(dir(odn_jax))
  with pytest.raises(AttributeError):
    odn_jax.no_such_name  # pylint: disable=pointless-statement


def test_get_config_by_name_is_editable():
  config = odn_jax.get_config('quickstart')
  config.model.width = 8  # unlocked: a notebook sets keys before training
  assert (config.data.source, config.model.width) == ('digits', 8)


def test_describe_is_the_size_table():
  rows = odn_jax.describe('resnet18', (8, 8, 1), 10, width=8, flops=False)
  assert rows == size.depth_table(ResNet('resnet18', 10, 8), (8, 8, 1), flops=False)
  assert [r['depth'] for r in rows] == list(range(1, 9))
  timed = odn_jax.describe('resnet18', (8, 8, 1), 10, width=4, flops=False, throughput=True,
                           batch_sizes=(2,))
  assert all(r['images_per_s_batch_2'] > 0 for r in timed)  # measured here: positive, no bound
  assert [{k: v for k, v in r.items() if k != 'images_per_s_batch_2'} for r in timed] == (
      size.depth_table(ResNet('resnet18', 10, 4), (8, 8, 1), flops=False))


@pytest.fixture(scope='module')
def run_and_net(tiny_run):
  config, workdir, summary = tiny_run
  images, labels = data.load_splits(config.data)['test']
  return summary, odn_jax.load_subnet(workdir), images, labels


def test_subnet_gives_the_runs_test_accuracy(run_and_net):
  summary, net, images, labels = run_and_net
  assert net.depth == summary['optimal_depth']
  assert 100.0 * np.mean(net.predict(images) == labels) == pytest.approx(
      summary['test_accuracy'], abs=1e-9)


def test_subnet_takes_uint8_float_one_image_or_a_batch(run_and_net):
  _, net, images, _ = run_and_net
  logits = net(images[:5])
  assert logits.shape == (5, 10)
  np.testing.assert_allclose(net(images[:5].astype(np.float32)), logits, rtol=1e-6, atol=1e-6)
  np.testing.assert_allclose(net(images[:5, ..., 0]), logits, rtol=1e-6, atol=1e-6)  # [N, H, W]
  np.testing.assert_allclose(net(images[2]), logits[2], rtol=1e-5, atol=1e-5)  # [H, W, C]
  np.testing.assert_allclose(net(images[2, ..., 0]), logits[2], rtol=1e-5, atol=1e-5)  # [H, W]
  assert net(images[:0]).shape == (0, 10)


def test_class_names(run_and_net):
  _, net, images, _ = run_and_net
  assert net.info['class_names'] == [str(i) for i in range(10)]  # the digits' names, stored
  assert net.class_names == [str(i) for i in range(10)]
  assert net.classify(images[:4]) == [str(i) for i in net.predict(images[:4])]
  assert net.classify(images[0]) == str(net.predict(images[0]))
  named = subnet.Subnet(net.variables, {**net.info, 'class_names': list('abcdefghij')})
  assert named.classify(images[:4]) == ['abcdefghij'[i] for i in net.predict(images[:4])]


def test_subnet_refuses_wrong_images_and_missing_runs(run_and_net, tmp_path):
  _, net, _, _ = run_and_net
  with pytest.raises(ValueError, match='8x8x1'):
    net(np.zeros((2, 28, 28), np.uint8))
  with pytest.raises(ValueError, match='numbers'):
    net(np.array([['a'] * 8] * 8))
  with pytest.raises(FileNotFoundError, match='no optimal/model.json'):
    odn_jax.load_subnet(str(tmp_path))
  with pytest.raises(FileNotFoundError, match='does not exist'):
    odn_jax.load_subnet(str(tmp_path / 'nope'))


def test_subnet_loads_without_the_trainer(tiny_run):
  _, workdir, _ = tiny_run
  code = ('import sys, odn_jax; net = odn_jax.load_subnet(sys.argv[1]); '
          'print(net.depth, sorted(m for m in ("odn_jax.train.loop", "odn_jax.data", '
          '"tensorflow_datasets") if m in sys.modules))')
  out = subprocess.run([sys.executable, '-c', code, workdir], capture_output=True, text=True,
                       check=True, cwd=ROOT)
  assert out.stdout.split(maxsplit=1)[1].strip() == '[]'
