"""evaluate.py and early exits on a real run: the numbers the training run measured."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from odn_jax import search
from odn_jax.models import size
from odn_jax.results import early_exit, evaluation

ROOT = Path(__file__).resolve().parents[1]


def kept_val_accuracy(history, config, depth):
  """Validation accuracy of the epoch whose weights depth `depth` kept (the controller
  compares rounded accuracies, so it is the last improvement, not the max)."""
  return search.per_depth(history, config)[depth]['best_val_accuracy']


@pytest.fixture(scope='module')
def evaluated(tiny_run):
  config, workdir, summary = tiny_run
  run = evaluation.load_run(workdir)
  return {split: evaluation.evaluate_run(run, split) for split in ('validation', 'test')}


def test_every_set_of_weights_matches_the_training_run(tiny_run, evaluated):
  config, workdir, summary = tiny_run
  with open(Path(workdir, 'history.json')) as f:
    history = json.load(f)
  depth = summary['optimal_depth']
  val, test = evaluated['validation'], evaluated['test']
  # The extracted subnet: its last head is the run's validation and test accuracy.
  assert val['subnet']['depth'] == test['subnet']['depth'] == depth
  assert val['subnet']['accuracy'] == summary['val_accuracy']
  assert test['subnet']['accuracy'] == pytest.approx(summary['test_accuracy'], abs=1e-9)
  assert test['subnet']['heads'] == list(range(1, depth + 1))  # every early exit kept
  # Each converged depth's best weights: the validation accuracy of the epoch kept.
  assert [r['depth'] for r in val['depth_tags']] == list(range(1, depth + 1))
  for row in val['depth_tags']:
    assert row['accuracy'] == kept_val_accuracy(history, config, row['depth']), row
  # The full tree, every head in one pass; its trunk and head d* are the subnet's (heads
  # 1..d*-1 of the subnet were trained again on that trunk after the search).
  assert val['full']['heads'] == list(range(1, summary['max_depth'] + 1))
  assert val['full']['accuracy_per_head'][depth - 1] == val['subnet']['accuracy']


def test_early_exit_on_the_run(tiny_run, evaluated):
  config, workdir, summary = tiny_run
  run = evaluation.load_run(workdir)
  variables, depth = evaluation.load_weights(workdir, 'optimal')
  outputs = evaluation.head_outputs(run.model, variables, run.ds.eval_batches('test'), depth)
  labels = outputs.labels
  flops = [size.forward_flops(run.model, run.ds.input_shape, d) for d in range(1, depth + 1)]
  rows = early_exit.sweep(outputs, flops)
  heads = evaluated['test']['subnet']['accuracy_per_head']
  never, first = rows[-1], rows[0]
  assert (never['threshold'], first['threshold']) == (1.0, 0.0)
  assert never['exits_per_head'][-1] == len(labels) and never['mean_flops'] == flops[-1]
  assert never['accuracy'] == pytest.approx(heads[-1], abs=1e-9)
  assert never['accuracy'] == pytest.approx(summary['test_accuracy'], abs=1e-9)
  assert first['exits_per_head'][0] == len(labels) and first['mean_flops'] == flops[0]
  assert first['accuracy'] == pytest.approx(heads[0], abs=1e-9)
  mean_flops = [r['mean_flops'] for r in rows]
  assert mean_flops == sorted(mean_flops)
  assert [h['accuracy'] for h in early_exit.per_head(outputs, flops)] == pytest.approx(
      heads, abs=1e-9)
  assert summary['early_exit'][-1]['accuracy'] == never['accuracy']


def test_early_exit_needs_every_head():
  one_head = evaluation.HeadOutputs([2], np.zeros((1, 1), np.int32), np.ones((1, 1)),
                                    np.zeros(1, np.int32))
  with pytest.raises(ValueError, match='every head'):
    early_exit.sweep(one_head, [1.0, 2.0])


def test_early_exit_leaves_at_the_first_confident_head():
  # Three examples of class 1, two heads; only the first is confident at head 1.
  outputs = evaluation.HeadOutputs([1, 2], np.array([[1, 0], [1, 0], [0, 1]], np.int32),
                                   np.array([[0.9, 0.6], [0.4, 0.8], [0.5, 0.99]]),
                                   np.array([1, 1, 1], np.int32))
  row = early_exit.at_threshold(outputs, 0.7, [10.0, 30.0])
  assert row['exits_per_head'] == [1, 2]
  # The first answers at head 1 (right), the others at head 2 (wrong, right).
  assert row['accuracy'] == pytest.approx(200 / 3)
  assert row['mean_flops'] == pytest.approx(70 / 3)
  assert early_exit.at_threshold(outputs, 0.0, [10.0, 30.0])['accuracy'] == pytest.approx(200 / 3)
  assert early_exit.at_threshold(outputs, 1.0, [10.0, 30.0])['accuracy'] == pytest.approx(100 / 3)


def evaluate_cli(*args):
  return subprocess.run([sys.executable, str(ROOT / 'launch/evaluate.py'), *args],
                        capture_output=True, text=True, check=False, cwd=ROOT, timeout=600)


def test_cli_json_and_table(tiny_run, evaluated):
  _, workdir, summary = tiny_run
  out = evaluate_cli(f'--workdir={workdir}', '--weights=all', '--split=validation', '--json')
  assert out.returncode == 0, out.stderr[-2000:]
  assert json.loads(out.stdout) == json.loads(json.dumps(evaluated['validation']))
  out = evaluate_cli(f'--workdir={workdir}', '--weights=all')
  assert out.returncode == 0, out.stderr[-2000:]
  assert f'extracted subnet (optimal/, depth {summary["optimal_depth"]}): ' \
         f'{summary["test_accuracy"]:.2f}%' in out.stdout


def test_cli_refuses_bad_input_in_one_line(tiny_run, tmp_path):
  _, workdir, _ = tiny_run
  for args, message in (([f'--workdir={workdir}', '--split=nope'], 'value should be one of'),
                        ([f'--workdir={tmp_path}'], 'config.json does not exist')):
    out = evaluate_cli(*args)
    assert out.returncode == 2 and message in out.stderr, out.stderr[-2000:]
    assert 'Traceback' not in out.stderr
