"""describe.py through the real command line."""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _describe(*args):
  return subprocess.run([sys.executable, str(ROOT / 'launch/describe.py'), *args],
                        capture_output=True, text=True, check=False)


def test_json_rows_reproduce_the_reference_counts():
  out = _describe('--arch=resnet18', '--input_shape=28,28,1', '--num_classes=10', '--json')
  assert out.returncode == 0, out.stderr
  rows = json.loads(out.stdout)
  assert [r['depth'] for r in rows] == list(range(1, 9))
  assert set(rows[0]) == {'depth', 'params', 'bytes', 'flops', 'memory_reduction_pct'}
  assert rows[1]['params'] == 149_322 and rows[1]['memory_reduction_pct'] == 98.66
  assert rows[-1]['params'] == 11_172_810
  flops = [r['flops'] for r in rows]
  assert all(a < b for a, b in zip(flops, flops[1:]))


def test_bad_input_is_one_line_and_nonzero():
  out = _describe('--arch=resnet19')
  assert out.returncode == 2
  assert out.stderr.strip().splitlines()[-1].startswith('error: unknown architecture')
  assert 'Traceback' not in out.stderr


def test_throughput_adds_measured_images_per_second_for_the_depths_asked():
  args = ('--arch=resnet18', '--input_shape=8,8,1', '--width=4', '--noflops',
          '--throughput', '--depths=1,3', '--batch_sizes=1,4')
  out = _describe(*args, '--json')
  assert out.returncode == 0, out.stderr
  rows = {r['depth']: r for r in json.loads(out.stdout)}
  keys = ('images_per_s_batch_1', 'images_per_s_batch_4')
  for depth, row in rows.items():
    if depth in (1, 3):
      assert all(row[k] > 0 for k in keys), row  # measured: positive, never a threshold
    else:
      assert all(row[k] is None for k in keys), row
  table = _describe(*args)
  assert table.returncode == 0, table.stderr
  assert 'img/s b=1' in table.stdout.splitlines()[0] and 'img/s b=4' in table.stdout


def test_throughput_depths_are_checked():
  # --no_flops: the old name of --noflops, still taken.
  out = _describe('--arch=resnet18', '--width=4', '--no_flops', '--throughput', '--depths=9')
  assert out.returncode == 2 and 'not depths of resnet18' in out.stderr, out.stderr
  out = _describe('--depths=2')
  assert out.returncode == 2 and 'add --throughput' in out.stderr, out.stderr
