"""report.md, its plots and the TensorBoard event files of a run."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from odn_jax.results import tensorboard

ROOT = Path(__file__).resolve().parents[1]
PLOTS = ('val_accuracy', 'accuracy_vs_depth', 'size_vs_depth', 'early_exit')


def check_plots(workdir):
  for name in PLOTS:
    path = Path(workdir, 'plots', f'{name}.png')
    with Image.open(path) as image:
      assert image.format == 'PNG'
      image.verify()  # a complete, uncorrupted file
    assert path.stat().st_size > 10_000, name  # a drawn figure, not an empty canvas


def test_report_at_the_end_of_the_run(tiny_run):
  _, workdir, summary = tiny_run
  text = Path(workdir, 'report.md').read_text()
  assert f'Optimal depth: {summary["optimal_depth"]} of {summary["max_depth"]}' in text
  assert f'test {summary["test_accuracy"]:.2f}%' in text
  for name in PLOTS:
    assert f'(plots/{name}.png)' in text
  check_plots(workdir)
  # Measured inference speed of the subnet and of the full network: positive, never a threshold.
  t = summary['throughput']
  assert (t['optimal']['depth'], t['full']['depth']) == (summary['optimal_depth'], 8)
  for key in ('images_per_s_batch_1', 'images_per_s_batch_256'):
    assert t['optimal'][key] > 0 and t['full'][key] > 0 and t['speedup'][key] > 0
  assert '## Inference speed' in text and '| optimal subnet |' in text and '| full network |' in text


def test_model_card_beside_the_subnet(tiny_run):
  _, workdir, summary = tiny_run
  card = Path(workdir, 'optimal', 'README.md').read_text()
  assert card.startswith(f'# resnet18 at depth {summary["optimal_depth"]} of '
                         f'{summary["max_depth"]} for digits')
  assert f'test: {summary["test_accuracy"]:.2f}%' in card
  assert f'validation: {summary["val_accuracy"]:.2f}%' in card
  assert f'{summary["memory_reduction_pct"]:.2f}% fewer parameters' in card
  assert f"odn_jax.load_subnet({os.path.abspath(workdir)!r})" in card
  assert summary['stop_reason'] in card
  for row in summary['per_depth']:  # how it was found: every depth the search trained
    assert f'| {row["depth"]}' in card


def test_report_on_demand_rewrites_it(tiny_run, tmp_path):
  _, workdir, summary = tiny_run
  copy = tmp_path / 'run'
  copy.mkdir()
  for name in ('config.json', 'history.json', 'summary.json'):  # all the report reads
    (copy / name).write_bytes(Path(workdir, name).read_bytes())
  out = subprocess.run([sys.executable, str(ROOT / 'launch/report.py'), f'--workdir={copy}'],
                       capture_output=True, text=True, check=False, cwd=ROOT, timeout=600)
  assert out.returncode == 0, out.stderr[-2000:]
  assert (copy / 'report.md').read_text() == Path(workdir, 'report.md').read_text()
  check_plots(copy)


def test_tensorboard_has_every_epoch(tiny_run):
  _, workdir, summary = tiny_run
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
  steps_per_s = events.Scalars('steps_per_s')
  assert [e.step for e in steps_per_s] == [h['epoch'] for h in history]
  assert [e.value for e in steps_per_s] == pytest.approx(
      [h['steps'] / h['seconds'] for h in history], rel=1e-6)
  assert 'config' in events.Tags()['tensors']
  assert set(events.PluginTagToContent('hparams')) == {'_hparams_/experiment',
                                                       '_hparams_/session_start_info'}


def read_events(folder):
  from tensorboard.backend.event_processing import event_accumulator  # pylint: disable=g-import-not-at-top
  events = event_accumulator.EventAccumulator(str(folder))
  events.Reload()
  return events


def test_tensorboard_gets_the_config_and_steps_per_second(tmp_path):
  from tensorboard.plugins.hparams import plugin_data_pb2  # pylint: disable=g-import-not-at-top
  config = {'seed': 3, 'data': {'name': 'digits', 'mean': [0.3]}, 'search': {'target': 98.0,
            'abandon_margin': None, 'final': True}}
  writer = tensorboard.MetricWriter(str(tmp_path), config)
  writer.write_epoch({'epoch': 1, 'phase': 'grow', 'depth': 1, 'learning_rate': 0.1,
                      'loss': 1.0, 'val_accuracy': 50.0, 'val_accuracy_per_head': [50.0],
                      'steps': 30, 'seconds': 1.5})
  writer.close()
  events = read_events(tmp_path / 'tensorboard')
  assert [e.value for e in events.Scalars('steps_per_s')] == [20.0]
  table = events.Tensors('config')[0].tensor_proto.string_val[0].decode()
  for row in ('| seed | `3` |', '| data.name | `"digits"` |', '| data.mean | `[0.3]` |',
              '| search.target | `98.0` |', '| search.abandon_margin | `null` |'):
    assert row in table
  content = events.PluginTagToContent('hparams')
  start = plugin_data_pb2.HParamsPluginData.FromString(
      content['_hparams_/session_start_info']).session_start_info
  assert start.hparams['search.target'].number_value == 98.0
  assert start.hparams['data.name'].string_value == 'digits'
  assert start.hparams['search.final'].bool_value
  assert start.hparams['data.mean'].string_value == '[0.3]'
  experiment = plugin_data_pb2.HParamsPluginData.FromString(
      content['_hparams_/experiment']).experiment
  assert [m.name.tag for m in experiment.metric_infos] == ['val_accuracy']
  assert {h.name for h in experiment.hparam_infos} == {
      'seed', 'data.name', 'data.mean', 'search.target', 'search.abandon_margin', 'search.final'}


def test_metric_writer_without_tensorboard(tmp_path, monkeypatch):
  for name in [m for m in sys.modules if m.split('.')[0] == 'tensorboard'] + ['tensorboard']:
    monkeypatch.setitem(sys.modules, name, None)  # as if not installed
  writer = tensorboard.MetricWriter(str(tmp_path))
  writer.write_epoch({'epoch': 1, 'phase': 'grow', 'depth': 1, 'learning_rate': 0.1,
                      'loss': 1.0, 'val_accuracy': 50.0, 'val_accuracy_per_head': [50.0]})
  writer.close()
  assert not (tmp_path / 'tensorboard').exists()
