"""What users do with a finished run: evaluate, report, early exits, export and predict."""

import json
import os
import subprocess
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from PIL import Image

from odn_jax import checkpoint, data, early_exit, evaluation

ROOT = Path(__file__).resolve().parents[1]


def launch(script, *args):
  return subprocess.run([sys.executable, str(ROOT / 'launch' / script), *args],
                        capture_output=True, text=True, check=False, cwd=ROOT, timeout=600)


def test_evaluate_equals_the_training_run(quickstart_run):
  _, workdir, summary = quickstart_run
  out = launch('evaluate.py', f'--workdir={workdir}', '--json')
  assert out.returncode == 0, out.stderr[-2000:]
  heads = json.loads(out.stdout)['heads']
  assert len(heads) == summary['optimal_depth']
  assert heads[-1]['accuracy'] == pytest.approx(summary['test_accuracy'], abs=1e-9)
  validation = evaluation.head_accuracies(workdir, 'validation', 'optimal')
  assert validation[-1] == pytest.approx(summary['val_accuracy'], abs=1e-9)
  full = evaluation.head_accuracies(workdir, 'test', 'full')
  assert len(full) == 8  # every head of the full tree, in one pass


def test_report_names_the_optimal_depth_and_plots_are_pngs(quickstart_run):
  _, workdir, summary = quickstart_run
  report = Path(workdir, 'report.md').read_text()
  assert f'Optimal depth: {summary["optimal_depth"]} of {summary["max_depth"]}' in report
  for name in ('val_accuracy', 'accuracy_vs_depth', 'size_vs_depth', 'early_exit'):
    png = Path(workdir, 'plots', f'{name}.png')
    assert png.read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'
    assert png.stat().st_size > 10_000
    assert Image.open(png).size[0] >= 500
  assert any(Path(workdir, 'tensorboard').iterdir())
  out = launch('report.py', f'--workdir={workdir}')
  assert out.returncode == 0, out.stderr[-2000:]


def test_early_exit_thresholds():
  rng = np.random.default_rng(0)
  probs = rng.dirichlet(np.ones(4), size=(3, 50))  # 3 heads, 50 examples, 4 classes
  labels = rng.integers(0, 4, 50)
  flops = [10.0, 20.0, 30.0]
  never = early_exit.evaluate(probs, labels, 1.0, flops)
  assert never['exits_per_head'] == [0, 0, 50] and never['mean_flops'] == 30.0
  assert never['accuracy'] == pytest.approx(100 * np.mean(probs[2].argmax(-1) == labels))
  first = early_exit.evaluate(probs, labels, 0.0, flops)
  assert first['exits_per_head'] == [50, 0, 0] and first['mean_flops'] == 10.0
  assert first['accuracy'] == pytest.approx(100 * np.mean(probs[0].argmax(-1) == labels))
  mean_flops = [r['mean_flops'] for r in early_exit.sweep(probs, labels, flops)]
  assert all(a <= b for a, b in zip(mean_flops, mean_flops[1:]))


def test_the_runs_early_exit_sweep_ends_at_its_test_accuracy(quickstart_run):
  _, _, summary = quickstart_run
  sweep = summary['early_exit']
  assert sweep[-1]['accuracy'] == summary['test_accuracy']
  assert all(a['mean_flops'] <= b['mean_flops'] for a, b in zip(sweep, sweep[1:]))


def test_export_round_trip_on_an_unseen_batch_size(quickstart_run, tmp_path):
  config, workdir, summary = quickstart_run
  model_file = str(tmp_path / 'digits.jaxexport')
  out = launch('export.py', f'--workdir={workdir}', f'--output={model_file}')
  assert out.returncode == 0, out.stderr[-2000:]
  assert os.path.getsize(model_file) > 1000
  with open(model_file, 'rb') as f:
    exported = jax.export.deserialize(bytearray(f.read()))
  variables, info = checkpoint.load_variables(checkpoint.optimal_path(workdir))
  from odn_jax import trainer  # the in-process subnet, for comparison
  model = trainer.build_model(config, info['num_classes'])
  images = data.load(config).splits['test'][0][:37]  # 37: never a batch size in training
  expected, _ = model.apply(variables['params'], variables['state'],
                            data.pipeline.normalize(images, info['mean'], info['std']),
                            info['depth'])
  logits = exported.call(jnp.asarray(images, jnp.float32))
  np.testing.assert_allclose(logits, expected, rtol=1e-4, atol=1e-4)

  # predict.py: a split (accuracy equal to the run's), an npz, and image files.
  out = launch('predict.py', f'--model={model_file}', f'--workdir={workdir}', '--split=test')
  assert out.returncode == 0, out.stderr[-2000:]
  assert f'accuracy {summary["test_accuracy"]:.2f}%' in out.stdout
  np.savez(tmp_path / 'few.npz', x=images[:5, ..., 0])
  out = launch('predict.py', f'--model={model_file}', f'--input={tmp_path / "few.npz"}')
  assert out.returncode == 0, out.stderr[-2000:]
  png = tmp_path / 'digit.png'
  Image.fromarray(images[0, ..., 0]).save(png)
  out = launch('predict.py', f'--model={model_file}', f'--input={png}')
  assert out.returncode == 0 and out.stdout.strip() == f'{png}: {int(expected[0].argmax())}'
