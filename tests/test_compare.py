"""odn-compare: one table of several runs from their summary.json."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from odn_jax.results import compare

ROOT = Path(__file__).resolve().parents[1]


def summary(**changes):
  base = {'dataset': 'mnist', 'arch': 'resnet18', 'max_depth': 8, 'optimal_depth': 2,
          'val_accuracy': 99.12, 'test_accuracy': 99.31, 'params_optimal': 152_266,
          'memory_reduction_pct': 98.64, 'epochs_total': 71, 'wall_clock_s': 1234.5,
          'search_mode': 'target', 'search_start': 'shallowest', 'grow_init': 'warmup'}
  return {**base, **changes}


@pytest.fixture
def two_runs(tmp_path):
  runs = {'paper': summary(), 'fast': summary(grow_init='identity', optimal_depth=3,
                                              test_accuracy=99.4, wall_clock_s=321.0)}
  for name, s in runs.items():
    (tmp_path / name).mkdir()
    (tmp_path / name / 'summary.json').write_text(json.dumps(s))
  return [str(tmp_path / n) for n in runs]


def test_rows_hold_the_compared_numbers(two_runs):
  rows = compare.rows(compare.load_summaries(two_runs))
  assert [r['run'] for r in rows] == ['paper', 'fast']
  assert rows[0]['schedule'] == 'target / shallowest / warmup'
  assert rows[1]['schedule'] == 'target / shallowest / identity'
  assert (rows[1]['optimal_depth'], rows[1]['test_accuracy'], rows[1]['wall_clock_s']) == (
      3, 99.4, 321.0)


def test_text_and_markdown_tables(two_runs):
  rows = compare.rows(compare.load_summaries(two_runs))
  text = compare.format_table(rows).splitlines()
  assert len(text) == 3 and 'test %' in text[0]
  assert '2 of 8' in text[1] and '99.31' in text[1] and '152,266' in text[1]
  assert '98.64' in text[1] and '1234.5' in text[1]
  md = compare.format_table(rows, markdown=True).splitlines()
  assert md[0].startswith('| run | dataset | arch |') and md[1].startswith('|---|')
  assert md[3] == '| fast | mnist | resnet18 | target / shallowest / identity | 3 of 8 | 99.12 ' \
                  '| 99.40 | 152,266 | 98.64 | 71 | 321.0 |'


def test_missing_keys_show_as_dashes(tmp_path):
  (tmp_path / 'old').mkdir()
  (tmp_path / 'old' / 'summary.json').write_text(json.dumps({'dataset': 'svhn'}))
  line = compare.compare_runs([str(tmp_path / 'old')]).splitlines()[1]
  assert line.split()[:3] == ['old', 'svhn', '-']


def test_unfinished_or_missing_runs_are_named(two_runs, tmp_path):
  (tmp_path / 'unfinished').mkdir()
  with pytest.raises(compare.RunNotFinished, match='unfinished: no summary.json'):
    compare.load_summaries([*two_runs, str(tmp_path / 'unfinished')])
  with pytest.raises(compare.RunNotFinished, match='nope: no such directory'):
    compare.load_summaries([str(tmp_path / 'nope')])


def compare_cli(*args, cwd=ROOT):
  return subprocess.run([sys.executable, str(ROOT / 'launch/compare.py'), *args],
                        capture_output=True, text=True, check=False, cwd=cwd, timeout=120)


def test_cli_prints_and_writes_markdown(tiny_run, two_runs, tmp_path):
  _, workdir, run_summary = tiny_run
  out = compare_cli(workdir, two_runs[0], f'--markdown={tmp_path / "table.md"}')
  assert out.returncode == 0, out.stderr[-2000:]
  lines = out.stdout.splitlines()
  assert 'digits' in lines[1] and f'{run_summary["test_accuracy"]:.2f}' in lines[1]
  assert 'mnist' in lines[2]
  table = (tmp_path / 'table.md').read_text()
  assert table == compare.compare_runs([workdir, two_runs[0]], markdown=True)


def test_cli_errors_in_one_line(tmp_path):
  for args, message in (([str(tmp_path)], f'{tmp_path}: no summary.json'),
                        ([], 'give one or more workdirs')):
    out = compare_cli(*args)
    assert out.returncode == 2 and message in out.stderr, out.stderr[-2000:]
    assert 'Traceback' not in out.stderr
