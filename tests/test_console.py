"""What the commands print and how they exit: help, bad flags, --print_config, the epoch
lines and the lines a run ends with."""

import subprocess
import sys
from pathlib import Path

from odn_jax import search
from odn_jax.cli import closing
from odn_jax.results import markdown, plots
from odn_jax.train import loop

ROOT = Path(__file__).resolve().parents[1]


def launch(script, *args):
  return subprocess.run([sys.executable, str(ROOT / 'launch' / f'{script}.py'), *args],
                        capture_output=True, text=True, check=False, cwd=ROOT, timeout=300)


def test_help_is_the_module_doc_and_exits_0():
  out = launch('compare', '--help')
  assert out.returncode == 0, out.stderr[-2000:]
  assert 'odn-compare WORKDIR [WORKDIR ...]' in out.stdout and '--markdown' in out.stdout


def test_odn_command_help_shows_the_scripts_doc():
  # As the console script runs it: a __main__ without a docstring, the script by module name.
  code = ('import sys, launch; sys.modules["odn_jax.launch"] = launch; '
          'sys.argv = ["odn-compare", "--helpshort"]; from odn_jax import cli; cli.compare()')
  out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                       check=False, cwd=ROOT, timeout=300)
  assert out.returncode == 0, out.stderr[-2000:]
  assert 'Positional arguments: WORKDIR' in out.stdout and 'USAGE:' not in out.stdout


def test_bad_flags_exit_2_in_one_line():
  for script, args, message in (
      ('describe', ['--num_classes=ten'], '--num_classes'),
      ('check_data', ['--config=nope'], "unknown config 'nope'"),
      ('check_data', ['--config=quickstart', '--config.search.patiense=3'], 'patiense'),
      ('train', ['--config=quickstart'], '--workdir is required')):
    out = launch(script, *args)
    assert out.returncode == 2, (script, args, out.stderr[-2000:])
    assert out.stderr.strip().splitlines()[-1].startswith('error: ') and message in out.stderr
    assert 'Traceback' not in out.stderr and 'FATAL' not in out.stderr


def test_print_config_prints_the_resolved_config_with_overrides():
  out = launch('train', '--config=quickstart', '--config.model.width=4', '--print_config')
  assert out.returncode == 0, out.stderr[-2000:]
  assert 'width: 4' in out.stdout and "source: digits" in out.stdout


def test_check_data_takes_a_shipped_name():
  out = launch('check_data', '--config=quickstart')
  assert out.returncode == 0, out.stderr[-2000:]
  assert out.stdout.splitlines()[-1].startswith('no errors: a run with this config would start')


def test_epoch_line_prints_no_best_just_reset_by_growth():
  kept = {1: 0}
  grown = search.Position(search.Plan(search.GROW, 2, 0.05), 0.0, kept, {})
  same = search.Position(search.Plan(search.GROW, 1, 0.1), 96.9, kept, {})
  config = type('C', (), {'search': type('S', (), {'target': 98.0})})
  record = {'epoch': 17, 'phase': search.GROW, 'depth': 1, 'loss': 0.08, 'val_accuracy': 96.67,
            'learning_rate': 0.06}
  assert 'best' not in loop.epoch_line(record, grown, config)
  assert 'best 96.9%' in loop.epoch_line(record, same, config)


SUMMARY = {
    'dataset': 'digits', 'arch': 'resnet18', 'optimal_depth': 2, 'max_depth': 8,
    'val_accuracy': 98.06, 'test_accuracy': 97.22, 'params_optimal': 9690,
    'params_full': 701178, 'memory_reduction_pct': 98.62, 'epochs_total': 32,
    'wall_clock_s': 38.0, 'flops_optimal': 1.04e6, 'flops_full': 2.52e6, 'warnings': [],
    'per_depth': [{'depth': 1, 'epochs': 15, 'best_val_accuracy': 96.94, 'params': 5018,
                   'memory_reduction_pct': 99.28},
                  {'depth': 2, 'epochs': 15, 'best_val_accuracy': 98.06, 'params': 9690,
                   'memory_reduction_pct': 98.62}],
    'throughput': {'device': 'cpu', 'batch_sizes': [1, 256],
                   'optimal': {'images_per_s_batch_1': 8742.8, 'images_per_s_batch_256': 21140.8},
                   'full': {'images_per_s_batch_1': 524.0, 'images_per_s_batch_256': 1333.5},
                   'speedup': {'images_per_s_batch_1': 16.68, 'images_per_s_batch_256': 15.85}}}


def test_a_run_ends_with_its_table_the_subnet_against_the_full_network_and_paths(tmp_path):
  lines = closing.closing_text(SUMMARY, str(tmp_path)).splitlines()
  assert len(lines) < 15
  assert 'optimal depth 2 of 8' in lines[0] and 'test 97.22%' in lines[0]
  assert any('2.4x fewer' in l for l in lines)
  assert any('16.7x' in l and 'batch 256' in l for l in lines)
  for name in ('report.md', 'plots', 'optimal', 'summary.json'):
    assert any(l.endswith(str(tmp_path / name)) for l in lines), name


def test_early_exit_table_has_one_row_per_outcome_and_exact_thresholds():
  rows = [{'threshold': t, 'accuracy': a, 'mean_flops': f, 'exits_per_head': e}
          for t, a, f, e in ((0.0, 58.3, 5e5, [360, 0]), (0.1, 58.3, 5e5, [360, 0]),
                             (0.5, 97.2, 1e6, [13, 347]), (0.99, 97.2, 1.04e6, [0, 360]),
                             (0.999, 97.2, 1.04e6, [0, 360]), (1.0, 97.2, 1.04e6, [0, 360]))]
  table = markdown.early_exit_table(rows)
  assert [t for t, _ in table] == ['0 to 0.1', '0.5', '0.99 to 1']
  one_per = markdown.early_exit_table(
      [{**r, 'exits_per_head': [i, 0]} for i, r in enumerate(rows)])
  assert [t for t, _ in one_per][-2:] == ['0.999', '1']  # never two rows reading 1.00


def test_plot_labels_too_close_to_read_apart_are_merged():
  rows = [{'threshold': t} for t in (0.0, 0.1, 0.4, 0.5, 0.6, 0.7)]
  x, y = [0.53, 0.53, 0.98, 1.03, 1.04, 1.04], [58.3, 58.3, 97.2, 97.2, 97.2, 97.2]
  labels = [(lo, hi) for lo, hi, _, _ in plots.threshold_labels(rows, x, y)]
  assert labels == [(0.0, 0.1), (0.4, 0.4), (0.5, 0.7)]
  assert plots.thin([(1, 'a'), (1.5, 'b'), (10, 'c')], 0, 20, 0.05) == [(1, 'a'), (10, 'c')]
