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
