"""The exported artifact: portable, self-contained, and equal to the in-process subnet."""

import json
import os
import subprocess
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from odn_jax import data, models
from odn_jax.deploy import export, subnet

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope='module')
def exported_file(tiny_run, tmp_path_factory):
  _, workdir, _ = tiny_run
  path = str(tmp_path_factory.mktemp('export') / 'subnet.jaxexport')
  out = subprocess.run([sys.executable, str(ROOT / 'launch/export.py'), f'--workdir={workdir}',
                        f'--output={path}'], capture_output=True, text=True, check=False,
                       cwd=ROOT, timeout=600)
  assert out.returncode == 0, out.stderr[-2000:]
  assert f'{os.path.getsize(path):,} bytes' in out.stdout  # the size is reported
  return path


def test_exported_logits_equal_the_subnet_on_unseen_batch_sizes(tiny_run, exported_file):
  config, workdir, _ = tiny_run
  exported = export.load(exported_file)
  assert set(exported.platforms) == {'cpu', 'cuda', 'tpu'}
  assert export.input_shape(exported) == (8, 8, 1)
  variables, info = subnet.load(workdir)
  model = models.from_info(info)
  images = data.load(config).splits['test'][0]
  for n in (1, 37):  # training and evaluation never used these batch sizes
    expected, _ = model.apply(variables['params'], variables['state'],
                              data.pipeline.normalize(images[:n], info.mean, info.std),
                              info.depth)
    logits = export.predict(exported, images[:n])
    assert logits.shape == (n, info.num_classes)
    np.testing.assert_allclose(logits, expected, rtol=1e-5, atol=1e-5)
    # uint8 and float pixels give the same answer
    np.testing.assert_array_equal(logits, export.predict(exported, images[:n].astype(np.float32)))


def test_unknown_platform_is_refused(tiny_run):
  _, workdir, _ = tiny_run
  variables, info = subnet.load(workdir)
  with pytest.raises(ValueError, match='unknown platforms'):
    export.export_subnet(variables, info, platforms=('cpu', 'gpu'))


PREDICT_WITHOUT_MODEL_CODE = r'''
import runpy, sys
sys.argv = ['predict.py'] + sys.argv[1:]
try:
  runpy.run_path(sys.argv_script, run_name='__main__')
except SystemExit as e:
  code = e.code
loaded = sorted(m for m in sys.modules if m.startswith(('odn_jax.models', 'odn_jax.train.loop',
                                                        'odn_jax.train', 'flax', 'odn_jax.deploy.subnet')))
print('MODEL_CODE', loaded, file=sys.stderr)
sys.exit(code)
'''


def predict(*args):
  """launch/predict.py in a fresh process; also reports which model modules it imported."""
  code = PREDICT_WITHOUT_MODEL_CODE.replace('sys.argv_script', repr(str(ROOT / 'launch/predict.py')))
  out = subprocess.run([sys.executable, '-c', code, *args], capture_output=True, text=True,
                       check=False, cwd=ROOT, timeout=600)
  assert 'MODEL_CODE []' in out.stderr, out.stderr[-2000:]
  return out


def test_predict_reads_the_file_alone_and_matches_the_run(tiny_run, exported_file,
                                                          tmp_path):
  config, workdir, summary = tiny_run
  out = predict(f'--model={exported_file}', f'--workdir={workdir}', '--split=test', '--json')
  assert out.returncode == 0, out.stderr[-2000:]
  assert json.loads(out.stdout)['accuracy'] == pytest.approx(summary['test_accuracy'], abs=1e-9)

  images, labels = data.load(config).splits['test']
  expected = export.predict(export.load(exported_file), images[:5]).argmax(-1)
  np.savez(tmp_path / 'five.npz', images=images[:5, ..., 0], labels=labels[:5])
  out = predict(f'--model={exported_file}', f'--input={tmp_path / "five.npz"}', '--json')
  assert out.returncode == 0, out.stderr[-2000:]
  assert json.loads(out.stdout)['predictions'] == expected.tolist()

  from PIL import Image  # pylint: disable=g-import-not-at-top
  small, large = tmp_path / 'small.png', tmp_path / 'large_rgb.png'
  Image.fromarray(images[0, ..., 0]).save(small)
  Image.fromarray(np.repeat(images[1], 3, axis=-1)).resize((32, 32)).save(large)
  out = predict(f'--model={exported_file}', f'--input={small}', f'--input={large}')
  assert out.returncode == 0, out.stderr[-2000:]
  lines = out.stdout.strip().splitlines()
  assert lines[0] == f'{small}: {expected[0]}'  # same size: exactly the pixels above
  assert lines[1].startswith(f'{large}: ')  # converted to grey and resized to 8x8


def test_predict_prints_the_class_names_written_beside_the_file(tiny_run, exported_file,
                                                                tmp_path):
  config, workdir, _ = tiny_run
  info = export.load_info(exported_file)
  assert info.class_names == [str(i) for i in range(10)] and info.depth >= 1
  images, labels = data.load(config).splits['test']
  np.savez(tmp_path / 'five.npz', images=images[:5])
  expected = export.predict(export.load(exported_file), images[:5]).argmax(-1)
  named = tmp_path / 'named.jaxexport'  # the same model, its model.json with other names
  named.write_bytes(Path(exported_file).read_bytes())
  names = ['zero', 'one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine']
  Path(export.info_path(str(named))).write_text(
      json.dumps({**info.to_json(), 'class_names': names}))
  out = predict(f'--model={named}', f'--input={tmp_path / "five.npz"}', '--json')
  assert out.returncode == 0, out.stderr[-2000:]
  assert json.loads(out.stdout)['classes'] == [names[i] for i in expected]
  out = predict(f'--model={named}', f'--input={tmp_path / "five.npz"}')
  assert out.stdout.split() == [names[i] for i in expected]
  os.remove(export.info_path(str(named)))  # the file alone: indices, or the run's names
  out = predict(f'--model={named}', f'--input={tmp_path / "five.npz"}', '--json')
  assert 'classes' not in json.loads(out.stdout)
  out = predict(f'--model={named}', f'--workdir={workdir}', '--split=test', '--json')
  assert json.loads(out.stdout)['classes'][:3] == [str(i) for i in
                                                   json.loads(out.stdout)['predictions'][:3]]


def test_predict_refuses_bad_input_in_one_line(tiny_run, exported_file, tmp_path):
  _, workdir, _ = tiny_run
  not_a_model = os.path.join(workdir, 'config.json')
  for args, message in (
      ([f'--model={not_a_model}', f'--input={not_a_model}'], 'not a model'),
      ([f'--model={tmp_path / "missing"}', '--input=x.png'], 'does not exist'),
      ([f'--model={exported_file}', f'--input={tmp_path / "missing.png"}'], 'does not exist'),
      ([f'--model={exported_file}'], 'give --input'),
  ):
    out = subprocess.run([sys.executable, str(ROOT / 'launch/predict.py'), *args],
                         capture_output=True, text=True, check=False, cwd=ROOT, timeout=600)
    assert out.returncode == 2 and message in out.stderr, (args, out.stderr[-2000:])
    assert 'Traceback' not in out.stderr


def test_the_artifact_needs_only_jax(exported_file):
  with open(exported_file, 'rb') as f:
    exported = jax.export.deserialize(bytearray(f.read()))
  logits = exported.call(jnp.zeros((3, 8, 8, 1), jnp.float32))
  assert logits.shape == (3, 10)
