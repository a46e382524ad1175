"""report.md, its plots and the TensorBoard event files of a run."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from odn_jax import report

ROOT = Path(__file__).resolve().parents[1]
PLOTS = ('val_accuracy', 'accuracy_vs_depth', 'size_vs_depth', 'early_exit')


def check_plots(workdir):
  for name in PLOTS:
    path = Path(workdir, 'plots', f'{name}.png')
    with Image.open(path) as image:
      assert image.format == 'PNG'
      image.verify()  # a complete, uncorrupted file
    assert path.stat().st_size > 10_000, name  # a drawn figure, not an empty canvas


def test_report_at_the_end_of_the_run(quickstart_run):
  _, workdir, summary = quickstart_run
  text = Path(workdir, 'report.md').read_text()
  assert f'Optimal depth: {summary["optimal_depth"]} of {summary["max_depth"]}' in text
  assert f'test {summary["test_accuracy"]:.2f}%' in text
  for name in PLOTS:
    assert f'(plots/{name}.png)' in text
  check_plots(workdir)


def test_report_on_demand_rewrites_it(quickstart_run, tmp_path):
  _, workdir, summary = quickstart_run
  copy = tmp_path / 'run'
  copy.mkdir()
  for name in ('config.json', 'history.json', 'summary.json'):  # all the report reads
    (copy / name).write_bytes(Path(workdir, name).read_bytes())
  out = subprocess.run([sys.executable, str(ROOT / 'launch/report.py'), f'--workdir={copy}'],
                       capture_output=True, text=True, check=False, cwd=ROOT, timeout=600)
  assert out.returncode == 0, out.stderr[-2000:]
  assert (copy / 'report.md').read_text() == Path(workdir, 'report.md').read_text()
  check_plots(copy)


def test_tensorboard_has_every_epoch(quickstart_run):
  _, workdir, summary = quickstart_run
  from tensorboard.backend.event_processing import event_accumulator  # pylint: disable=g-import-not-at-top
  events = event_accumulator.EventAccumulator(os.path.join(workdir, 'tensorboard'))
  events.Reload()
  with open(os.path.join(workdir, 'history.json')) as f:
    history = json.load(f)
  assert {'val_accuracy', 'loss', 'learning_rate', 'depth'} <= set(events.Tags()['scalars'])
  val = events.Scalars('val_accuracy')
  assert [e.step for e in val] == [h['epoch'] for h in history]
  assert [e.value for e in val] == pytest.approx([h['val_accuracy'] for h in history], rel=1e-6)
  assert [e.value for e in events.Scalars('depth')] == [h['depth'] for h in history]
  assert len(events.Scalars('val_accuracy_head_01')) == summary['warmup_epochs']


def test_metric_writer_without_tensorboard(tmp_path, monkeypatch):
  for name in [m for m in sys.modules if m.split('.')[0] == 'tensorboard'] + ['tensorboard']:
    monkeypatch.setitem(sys.modules, name, None)  # as if not installed
  writer = report.MetricWriter(str(tmp_path))
  writer.write_epoch({'epoch': 1, 'phase': 'grow', 'depth': 1, 'learning_rate': 0.1,
                      'loss': 1.0, 'val_accuracy': 50.0, 'val_accuracy_per_head': [50.0]})
  writer.close()
  assert not (tmp_path / 'tensorboard').exists()
