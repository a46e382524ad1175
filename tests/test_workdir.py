"""The workdir: its layout, the writer, resuming only with a config that computes the same."""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from odn_jax.config import defaults
from odn_jax.errors import ConfigError, UserError
from odn_jax.run import start, workdir

ROOT = Path(__file__).resolve().parents[1]


def as_json(config):
  return json.loads(config.to_json())


def test_differences_name_the_nested_key():
  saved, current = defaults.base_config(), defaults.base_config()
  current.search.patience = 5
  current.search.budget.flops = 10**9
  current.data.mean = (0.5,)
  assert workdir.config_differences(as_json(saved), as_json(current)) == [
      'data.mean', 'search.budget.flops', 'search.patience']


def test_where_things_are_is_no_difference():
  saved, current = defaults.base_config(), defaults.base_config()
  current.data.data_dir = '/moved/tensorflow_datasets'
  current.data.prefetch = 8
  current.compilation_cache_dir = ''
  current.checkpoint.keep = 10
  current.distributed = True
  assert workdir.config_differences(as_json(saved), as_json(current)) == []


def test_a_key_only_one_config_has_differs():
  saved = as_json(defaults.base_config())
  current = json.loads(json.dumps(saved))
  del saved['search']['min_delta']
  current['model']['init'] = 'torch'
  assert workdir.config_differences(saved, current) == ['model.init', 'search.min_delta']


def begin(config, path):
  """What train_and_evaluate does before it trains: the checks, then config.json."""
  finished = start.prepare(config, path)
  if finished is None:
    start.start(config, path)
  return finished


def test_prepare_refuses_another_run_and_takes_a_moved_dataset(tmp_path):
  config = defaults.base_config()
  assert begin(config, str(tmp_path)) is None
  moved = defaults.base_config()
  moved.data.data_dir = '/elsewhere'
  assert begin(moved, str(tmp_path)) is None
  # What a later evaluate.py reads: the dataset where it is now.
  assert workdir.load_config(str(tmp_path)).data.data_dir == '/elsewhere'
  other = defaults.base_config()
  other.search.patience = 5
  # Nothing trained yet (e.g. the data checks refused the data): the new config replaces it.
  assert begin(other, str(tmp_path)) is None
  assert workdir.load_config(str(tmp_path)).search.patience == 5
  (tmp_path / workdir.CHECKPOINTS / '000001').mkdir(parents=True)  # an epoch was saved
  with pytest.raises(ConfigError, match=r'differs in search\.patience\)'):
    begin(moved, str(tmp_path))
  # A finished run (the summary of tests/data/v0_run): its summary, of the config saved.
  saved = json.loads((ROOT / 'tests/data/v0_run/summary.json').read_text())
  workdir.write_json(workdir.file(str(tmp_path), workdir.SUMMARY), saved)
  assert begin(other, str(tmp_path))['optimal_depth'] == saved['optimal_depth']


def test_prepare_refuses_a_file(tmp_path):
  path = tmp_path / 'file'
  path.write_text('x')
  with pytest.raises(UserError, match='is a file'):
    begin(defaults.base_config(), str(path))


def test_writes_are_whole_and_leave_no_temporary(tmp_path):
  path = str(tmp_path / 'a.json')
  workdir.write_json(path, {'a': 1})
  workdir.write_json(path, {'a': 2})
  assert workdir.read_json(path) == {'a': 2}
  workdir.write_folder(str(tmp_path / 'folder'), lambda tmp: (
      os.makedirs(tmp), Path(tmp, 'x').write_text('1')))
  workdir.write_folder(str(tmp_path / 'folder'), lambda tmp: (
      os.makedirs(tmp), Path(tmp, 'y').write_text('2')))
  assert sorted(os.listdir(tmp_path)) == ['a.json', 'folder']
  assert os.listdir(tmp_path / 'folder') == ['y']


def test_only_process_zero_writes(tmp_path, monkeypatch):
  monkeypatch.setattr(workdir.jax, 'process_index', lambda: 1)
  workdir.write_json(str(tmp_path / 'a.json'), {'a': 1})
  workdir.write_text(str(tmp_path / 'b.md'), 'b')
  assert not os.listdir(tmp_path)


def test_depth_tags_and_paths(tmp_path):
  for depth in (3, 1, 12):
    os.makedirs(workdir.depth_path(str(tmp_path), depth))
  os.makedirs(tmp_path / 'checkpoints' / '000004')
  assert {d: str(p) for d, p in workdir.depth_tags(str(tmp_path)).items()} == {
      d: str(tmp_path / 'checkpoints' / f'depth_{d:02d}') for d in (1, 3, 12)}
  assert str(workdir.optimal_path(str(tmp_path))) == str(tmp_path / 'optimal')


def run_main_with(body: str):
  code = textwrap.dedent(f'''
      from odn_jax import errors
      from odn_jax.cli.main import run_main
      def main(argv):
        {body}
      run_main(main)
  ''')
  return subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                        check=False, cwd=ROOT, timeout=120)


def test_a_user_error_is_one_line_and_exit_2():
  out = run_main_with("raise errors.ConfigError('config.search.patience must be >= 1, got 0')")
  assert out.returncode == 2
  assert out.stderr.strip() == 'error: config.search.patience must be >= 1, got 0'


@pytest.mark.parametrize('error', ['ValueError', 'KeyError', 'AttributeError'])
def test_a_library_bug_keeps_its_traceback(error):
  out = run_main_with(f"raise {error}('max() arg is an empty sequence')")
  assert out.returncode == 1
  assert 'Traceback' in out.stderr and f'{error}: ' in out.stderr, out.stderr[-2000:]
  assert not out.stderr.strip().splitlines()[-1].startswith('error: ')
