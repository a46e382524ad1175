"""Workdirs anywhere etils.epath reaches: a run given as an epath.Path, and a gs:// workdir
whose files go through epath alone."""

import json
import os

from etils import epath
from etils.epath import gpath
import pytest

import odn_jax
from odn_jax.results import compare, markdown, tensorboard
from odn_jax.run import record_files, records, start, workdir
from tests.conftest import smoke_config

BUCKET = 'gs://odn-test'


@pytest.fixture(scope='module')
def epath_run(tmp_path_factory):
  """A whole (tiny) search whose workdir is an epath.Path object, not a str."""
  run = epath.Path(tmp_path_factory.mktemp('epath')) / 'run'
  summary = odn_jax.train_and_evaluate(smoke_config(), run, quiet=True)
  return run, summary


def test_a_workdir_given_as_an_epath_path_runs_end_to_end(epath_run):
  run, summary = epath_run
  for name in ('config.json', 'history.json', 'summary.json', 'report.md', 'optimal/README.md',
               'optimal/model.json', 'plots/val_accuracy.png'):
    assert (run / name).is_file(), name
  assert list((run / 'tensorboard').glob('events.out.tfevents.*'))
  assert record_files.load_summary(run).to_json() == summary
  net = odn_jax.load_subnet(run)  # Orbax reads the epath.Path too
  assert net.depth == summary['optimal_depth']
  # A finished run given again (here as a str) is recognised, not trained again.
  assert odn_jax.train_and_evaluate(smoke_config(), str(run), quiet=True) == summary


@pytest.fixture
def fake_bucket(tmp_path, monkeypatch):
  """gs://odn-test served from tmp_path/bucket to epath alone. A file access that bypasses
  epath (os, open, shutil) does not find it, and leaves a 'gs:' folder in the cwd."""
  root = tmp_path / 'bucket'
  root.mkdir()
  cwd = tmp_path / 'cwd'
  cwd.mkdir()
  monkeypatch.chdir(cwd)
  local = lambda p: os.fspath(p).replace(BUCKET, str(root), 1)
  one = lambda fn, p, *args, **kwargs: fn(local(p), *args, **kwargs)
  two = lambda fn, p, dst, *args, **kwargs: fn(local(p), local(dst), *args, **kwargs)

  def open_object(fn, p, mode):  # as in a bucket, writing an object needs no folder first
    if 'r' not in mode:
      os.makedirs(os.path.dirname(local(p)), exist_ok=True)
    return fn(local(p), mode)

  monkeypatch.setattr(gpath, '_is_tf_installed', lambda: False)  # gs:// -> the mocked backend
  names = ('exists', 'glob', 'isdir', 'listdir', 'makedirs', 'mkdir', 'remove', 'rmtree',
           'stat', 'walk')
  with epath.testing.mock_epath(copy=two, rename=two, replace=two, open=open_object,
                                **{n: one for n in names}):
    yield root
  assert not os.listdir(cwd)


def test_a_gs_workdir_goes_through_epath_alone(epath_run, fake_bucket):
  run, summary = epath_run
  remote = f'{BUCKET}/runs/a'
  config = workdir.load_config(run)
  assert start.prepare(config, remote) is None
  start.start(config, remote)
  assert json.loads((fake_bucket / 'runs/a/config.json').read_text()) == config.to_dict()
  assert workdir.load_config(remote).to_dict() == config.to_dict()
  history = record_files.load_history(run)
  record_files.write_history(remote, history)
  writer = tensorboard.MetricWriter(remote, config.to_dict())  # rewritten whole on each flush
  for record in history:
    writer.write_epoch(record)
  writer.close()
  (events,) = (fake_bucket / 'runs/a/tensorboard').iterdir()
  assert events.stat().st_size > 100
  record_files.write_summary(remote, records.Summary.from_json(summary))
  # optimal/model.json, as extraction leaves it; then the report and card from the bucket.
  workdir.write_text(workdir.model_info_path(remote), (run / 'optimal/model.json').read_text())
  assert start.prepare(config, remote) == summary  # a finished run
  markdown.write_report_of(remote)
  text = (fake_bucket / 'runs/a/report.md').read_text()
  assert f'Optimal depth: {summary["optimal_depth"]}' in text
  assert (fake_bucket / 'runs/a/plots/val_accuracy.png').stat().st_size > 10_000
  card = (fake_bucket / 'runs/a/optimal/README.md').read_text()
  assert f"odn_jax.load_subnet('{remote}')" in card
  assert not list(fake_bucket.rglob('*.tmp'))  # every write renamed into place
  # Two remote runs side by side.
  workdir.write_json(workdir.file(f'{BUCKET}/runs/b', workdir.SUMMARY), summary)
  table = compare.compare_runs([remote, f'{BUCKET}/runs/b'])
  assert table.splitlines()[1].startswith('a ') and table.splitlines()[2].startswith('b ')
  assert record_files.load_summary(remote).to_json() == summary
