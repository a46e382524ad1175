"""The run's JSON files as typed records: a workdir written before format_version (by main at
efca7f6, tests/data/v0_run) reads through the one conversion; damaged files fail in one line."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from odn_jax.results import compare, markdown, tensorboard
from odn_jax.run import record_files, records, start, workdir

ROOT = Path(__file__).resolve().parents[1]
V0_RUN = ROOT / 'tests' / 'data' / 'v0_run'  # config.json, history.json, summary.json, model.json


def read(name):
  return json.loads((V0_RUN / name).read_text())


def test_the_fixture_is_version_0():
  assert records.VERSION_KEY not in read('summary.json')
  assert records.VERSION_KEY not in read('optimal/model.json')
  assert all(records.VERSION_KEY not in r for r in read('history.json'))


def test_a_version_0_workdir_reads_into_typed_records_field_for_field():
  summary = record_files.load_summary(V0_RUN)
  assert isinstance(summary, records.Summary)
  assert (summary.optimal_depth, summary.max_depth, summary.width) == (2, 2, 4)
  # Every field stays as the file has it; only format_version is added.
  assert summary.to_json() == {**read('summary.json'), 'format_version': 1}
  history = record_files.load_history(V0_RUN)
  assert history == [{**r, 'format_version': 1} for r in read('history.json')]
  epochs = records.epochs(history)
  assert [e.phase for e in epochs] == ['warmup', 'grow', 'finetune']
  assert epochs[0].metrics == {'loss': epochs[0].loss, 'val_accuracy': epochs[0].val_accuracy}
  info = record_files.load_model_info(V0_RUN)
  assert (info.depth, info.dtype, info.early_exit_epochs) == (2, 'float32', 2)
  assert info.to_json() == {**read('optimal/model.json'), 'format_version': 1}


def test_older_files_get_what_they_lack_in_one_place(tmp_path):
  """Fields earlier versions did not write come from the run's config, as the run had them."""
  run = tmp_path / 'run'
  shutil.copytree(V0_RUN, run)
  old = {k: v for k, v in read('summary.json').items()
         if k not in ('input_shape', 'schedule', 'search_mode', 'warnings', 'compile',
                      'num_processes', 'warmup_epochs')}
  old['per_depth'] = [{k: v for k, v in r.items() if k != 'left_because'}
                      for r in old['per_depth']]
  (run / 'summary.json').write_text(json.dumps(old))
  config = read('config.json')
  config['half_precision'] = True
  config['search']['mode'] = 'saturation'
  (run / 'config.json').write_text(json.dumps(config))
  info = {k: v for k, v in read('optimal/model.json').items()
          if k not in ('dtype', 'class_names', 'early_exit_epochs')}
  (run / 'optimal' / 'model.json').write_text(json.dumps(info))
  summary = record_files.load_summary(run)
  assert summary.input_shape == [8, 8, 1]  # from model.json
  assert (summary.schedule, summary.search_mode, summary.num_processes) == (
      'paper', 'saturation', 1)
  assert (summary.warnings, summary.compile, summary.warmup_epochs) == ([], [], 0)
  assert [r['left_because'] for r in summary.per_depth] == ['', '']
  info = record_files.load_model_info(run)
  assert (info.dtype, info.class_names, info.early_exit_epochs) == ('bfloat16', None, 0)
  assert info.labels == [str(i) for i in range(10)]
  # Without a workdir to ask, the defaults of the version that wrote it.
  assert records.ModelInfo.from_json(json.loads(json.dumps(info.to_json()))) == info
  assert records.upgrade('model_info', {'depth': 1})['dtype'] == 'float32'


def test_records_round_trip_and_carry_the_version():
  record = records.EpochRecord(epoch=3, phase='grow', depth=2, learning_rate=0.05,
                               metrics={'loss': 0.5, 'val_accuracy': 90.0, 'grad_norm': 2.0},
                               val_accuracy_per_head=[90.0], steps=10, seconds=2.0)
  plain = record.to_json()
  assert plain['format_version'] == records.FORMAT_VERSION
  assert list(plain)[:7] == ['epoch', 'phase', 'depth', 'learning_rate', 'loss', 'val_accuracy',
                             'grad_norm']  # metrics flat, where history.json has them
  assert 'val_correct' not in plain and 'compile_s' not in plain  # absent, not null
  assert records.EpochRecord.from_json(json.loads(json.dumps(plain))) == record
  # A new metric reaches TensorBoard's scalars with nothing else changed.
  assert record.scalars() == {'loss': 0.5, 'val_accuracy': 90.0, 'grad_norm': 2.0,
                              'learning_rate': 0.05, 'depth': 2, 'steps_per_s': 5.0}
  summary = record_files.load_summary(V0_RUN)
  assert records.Summary.from_json(json.loads(json.dumps(summary.to_json()))) == summary


def test_a_new_metric_reaches_report_md_and_tensorboard(tmp_path):
  history = record_files.load_history(V0_RUN)
  history = [{**r, 'grad_norm': float(i)} for i, r in enumerate(history)]
  lines = markdown.epochs_markdown(history)
  assert '| epochs | phase | depth | learning rate | loss | val_accuracy | grad_norm |' in lines
  assert lines[-1].startswith('| 3 | finetune | 2 |') and lines[-1].endswith('| 2 |')
  writer = tensorboard.MetricWriter(str(tmp_path))
  for record in history:
    writer.write_epoch(record)
  writer.close()
  from tensorboard.backend.event_processing import event_accumulator  # pylint: disable=g-import-not-at-top
  events = event_accumulator.EventAccumulator(str(tmp_path / 'tensorboard'))
  events.Reload()
  assert [e.value for e in events.Scalars('grad_norm')] == [0.0, 1.0, 2.0]


def test_files_of_a_newer_version_or_unknown_fields_are_refused():
  with pytest.raises(ValueError, match='newer odn_jax'):
    records.Summary.from_json({**read('summary.json'), 'format_version': 99})
  with pytest.raises(ValueError, match='unknown fields'):
    records.ModelInfo.from_json({**read('optimal/model.json'), 'colour': 'red'})
  with pytest.raises(ValueError, match='missing'):
    records.ModelInfo.from_json({'arch': 'resnet18'})


@pytest.mark.parametrize('name,fix', [('summary.json', 'extract, test and report'),
                                      ('history.json', 'write both again'),
                                      ('optimal/model.json', 'extract the subnet again')])
@pytest.mark.parametrize('text', ['', '{"dataset": "dig', '[1, 2]'])
def test_a_damaged_file_is_one_line_naming_it_and_the_fix(tmp_path, name, fix, text):
  run = tmp_path / 'run'
  shutil.copytree(V0_RUN, run)
  (run / name).write_text(text)
  load = {'summary.json': record_files.load_summary, 'history.json': record_files.load_history,
          'optimal/model.json': record_files.load_model_info}[name]
  with pytest.raises(record_files.RunFileError) as e:
    load(run)
  message = str(e.value)
  assert str(run / name) in message and fix in message and '\n' not in message


def test_compare_and_report_of_a_damaged_summary_exit_in_one_line(tmp_path):
  run = tmp_path / 'run'
  shutil.copytree(V0_RUN, run)
  (run / 'summary.json').write_text('{"dataset": ')
  with pytest.raises(record_files.RunFileError):
    compare.load_summary(run)
  out = subprocess.run([sys.executable, str(ROOT / 'launch/report.py'), f'--workdir={run}'],
                       capture_output=True, text=True, check=False, cwd=ROOT, timeout=300)
  assert out.returncode == 2 and 'summary.json cannot be read' in out.stderr
  assert 'Traceback' not in out.stderr


def v0_config():
  """The config the fixture's run was started with, on the main of today."""
  from configs import quickstart  # pylint: disable=g-import-not-at-top
  config = quickstart.get_config()
  config.model.width, config.model.max_depth = 4, 2
  config.data.train_subset, config.precise_bn_batches = 256, 2
  config.warmup.epochs, config.search.max_epochs_per_depth = 1, 1
  return config


def test_a_version_0_run_is_recognised_with_the_config_keys_added_since(tmp_path):
  run = tmp_path / 'run'
  shutil.copytree(V0_RUN, run)
  (run / 'checkpoints' / '000003').mkdir(parents=True)  # it trained: configs are compared
  assert not set(records.CONFIG_ADDED) & set(workdir.flatten(read('config.json')))
  assert start.prepare(v0_config(), str(run)) == read('summary.json')  # finished: recognised
  other = v0_config()
  other.search.parallel_depths = 2  # a key added since, not as the old run had it
  with pytest.raises(ValueError, match='search.parallel_depths'):
    start.prepare(other, str(run))
  assert workdir.load_config(run).search.parallel_depths == 1
