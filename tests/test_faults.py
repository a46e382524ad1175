"""Never lose a run, never report a wrong one: one tiny constructed case per class of fault.

Each asserts the exit status (or the error type, in-process), the one-line message, and that
nothing was lost: the files are still there, the run still resumes, the summary still true.
Most fail before training; those that train share one tiny run (a partial and a finished
copy), so the file takes a couple of minutes on 2 cores. docs/resuming.md states what holds.
"""

import errno
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from odn_jax import data
from odn_jax.config import validate
from odn_jax.data import DataError
from odn_jax.errors import ConfigError
from odn_jax.run import checkpoint, lock, record_files, workdir as workdir_lib
from odn_jax.train import loop as trainer, preemption

ROOT = Path(__file__).resolve().parents[1]
# The tiny run, as flags of launch/train.py (and as a config, `tiny`): 5 epochs of a width-4
# network on the digits; '' keeps the session's compilation cache (tests/conftest.py).
TINY = {'model.width': 4, 'batch_size': 16, 'precise_bn_batches': 2, 'warmup.epochs': 1,
        'search.target': 100.0, 'search.max_epochs_per_depth': 2,
        'search.max_epochs_total': 5, 'early_exit_epochs': 1, 'measure_throughput': False,
        'compilation_cache_dir': ''}


def tiny(**overrides):
  from configs import quickstart  # pylint: disable=g-import-not-at-top
  config = quickstart.get_config()
  for key, value in {**TINY, **overrides}.items():
    group, _, name = key.rpartition('.')
    (config[group] if group else config)[name] = value
  return config


def cli(tool, *args, timeout=300):
  """(exit status, stdout, stderr) of launch/TOOL.py."""
  out = subprocess.run([sys.executable, str(ROOT / 'launch' / f'{tool}.py'), *args],
                       capture_output=True, text=True, timeout=timeout, check=False, cwd=ROOT)
  return out.returncode, out.stdout, out.stderr


def train_cli(workdir, *overrides):
  flags = [f'--config.{k}={v}' for k, v in TINY.items()]
  return cli('train', '--config=quickstart', f'--workdir={workdir}', *flags, *overrides)


def one_line(stderr: str, *parts: str) -> str:
  """The last line of stderr, checked to be our one-line error holding `parts`."""
  assert 'Traceback' not in stderr, stderr[-3000:]
  last = stderr.strip().splitlines()[-1]
  assert last.startswith('error: '), stderr[-3000:]
  for part in parts:
    assert part in last, last
  return last


def listing(workdir) -> dict:
  """Every file under `workdir` with its bytes' size and mtime: what 'nothing lost' compares."""
  root = Path(workdir)
  return {str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns)
          for p in sorted(root.rglob('*')) if p.is_file() and p.name != workdir_lib.LOCK}


@pytest.fixture(scope='module')
def runs(tmp_path_factory):
  """(partial, finished): the tiny run stopped after 3 epochs (3 checkpoints), and finished."""
  base = tmp_path_factory.mktemp('faults')
  partial, finished = str(base / 'partial'), str(base / 'finished')
  config = tiny()
  assert trainer.train_and_evaluate(config, partial, quiet=True,
                                    should_stop=lambda h: len(h) >= 3) is None
  shutil.copytree(partial, finished)
  summary = trainer.train_and_evaluate(config, finished, quiet=True)
  assert summary is not None
  return partial, finished


@pytest.fixture
def partial(runs, tmp_path):
  shutil.copytree(runs[0], tmp_path / 'run')
  return str(tmp_path / 'run')


@pytest.fixture
def finished(runs, tmp_path):
  shutil.copytree(runs[1], tmp_path / 'run')
  return str(tmp_path / 'run')


SAME = ('optimal_depth', 'test_accuracy', 'val_accuracy', 'epochs_total', 'per_depth')


@pytest.fixture
def reference(runs):
  """The summary of the uninterrupted tiny run: what every resumed run must end with."""
  return record_files.load_summary(runs[1]).to_json()


def resumes_to_the_end(workdir, reference):
  """The run in `workdir` finishes in-process, to the summary of the uninterrupted run."""
  summary = trainer.train_and_evaluate(tiny(), workdir, quiet=True)
  assert summary is not None
  for key in SAME:
    assert summary[key] == reference[key], key
  return summary


# ------------------------------------------------------------------- loses data: --fresh

def test_fresh_deletes_nothing_before_every_check_has_passed(finished):
  before = listing(finished)
  status, _, err = train_cli(finished, '--fresh', '--config.batch_size=0')
  assert status == 2
  one_line(err, 'config.batch_size must be >= 1')
  assert listing(finished) == before


def test_fresh_refuses_what_is_not_a_run(tmp_path):
  folder = tmp_path / 'notes'
  folder.mkdir()
  (folder / 'notes.txt').write_text('mine')
  status, _, err = train_cli(folder, '--fresh')
  assert status == 2
  one_line(err, '--fresh refused', 'holds no odn_jax run', 'notes.txt')
  assert sorted(os.listdir(folder)) == ['notes.txt']  # not even a lock file left
  file = tmp_path / 'file'
  file.write_text('mine')
  with pytest.raises(ConfigError, match='is a file'):
    trainer.train_and_evaluate(tiny(), str(file), fresh=True)
  assert file.read_text() == 'mine'


def test_fresh_deletes_the_run_alone(partial):
  Path(partial, 'notes.txt').write_text('mine')
  assert trainer.train_and_evaluate(tiny(), partial, quiet=True, fresh=True,
                                    should_stop=lambda h: True) is None
  assert Path(partial, 'notes.txt').read_text() == 'mine'
  assert len(record_files.load_history(partial)) == 1  # started over


# ------------------------------------------------------------------- loses data: checkpoints

@pytest.mark.parametrize('keep', [0, -1])
def test_keep_below_one_is_refused(keep):
  with pytest.raises(ConfigError, match=r'config.checkpoint.keep must be >= 1'):
    validate.check(tiny(**{'checkpoint.keep': keep}))


def test_an_epoch_reported_is_an_epoch_saved(partial):
  """history.json (and the epoch line) come after the checkpoint is committed: a kill -9
  at any moment after them loses at most the epoch under way."""
  mngr = checkpoint.manager(partial)
  try:
    meta = checkpoint.restore_meta(mngr, mngr.latest_step())
  finally:
    mngr.close()
  assert len(meta['history']) == len(record_files.load_history(partial)) == 3
  assert not [p for p in Path(partial, 'checkpoints').iterdir() if 'tmp' in p.name]


def test_kill_9_right_after_an_epoch_loses_at_most_the_epoch_under_way(partial):
  process = subprocess.Popen(
      [sys.executable, str(ROOT / 'launch/train.py'), '--config=quickstart',
       f'--workdir={partial}', *[f'--config.{k}={v}' for k, v in TINY.items()]],
      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT)
  deadline = time.time() + 240
  while len(record_files.load_history(partial)) < 4 and time.time() < deadline:
    time.sleep(0.02)
  process.kill()
  process.wait(timeout=60)
  reported = len(record_files.load_history(partial))
  assert reported >= 4
  mngr = checkpoint.manager(partial)
  try:
    saved = len(checkpoint.restore_meta(mngr, mngr.latest_step())['history'])
  finally:
    mngr.close()
  assert saved >= reported


# ------------------------------------------------------------------- loses data: the lock

def test_a_second_run_on_a_workdir_stops_at_once(partial):
  before = listing(partial)
  with lock.held(partial):  # the first run, in this process
    status, _, err = train_cli(partial)
  assert status == 2
  one_line(err, 'is in use by another run', f'pid {os.getpid()}')
  assert listing(partial) == before


def test_a_stale_lock_of_a_dead_process_is_taken(partial):
  Path(partial, workdir_lib.LOCK).write_text('pid 999999 on elsewhere since 2020: killed\n')
  assert trainer.train_and_evaluate(tiny(), partial, quiet=True,
                                    should_stop=lambda h: True) is None
  assert len(record_files.load_history(partial)) == 4


# ------------------------------------------------------------------- reports something wrong

def write_npz(path, train_shape=(8, 8, 1), test_shape=(8, 8, 1), test_label_shift=0):
  rng = np.random.default_rng(0)
  labels = np.arange(300) % 10
  np.savez(path, x_train=rng.integers(0, 256, (300, *train_shape), dtype=np.uint8),
           y_train=labels, x_test=rng.integers(0, 256, (100, *test_shape), dtype=np.uint8),
           y_test=labels[:100] + test_label_shift)


def npz_config(path):
  return tiny(**{'data.source': 'npz', 'data.path': str(path), 'data.name': 'mine',
                 'data.num_train': 200, 'data.num_val': 100, 'data.split_seed': 0})


@pytest.mark.parametrize('test_shape,shift,message', [
    ((16, 16, 1), 0, "the test split's images are 16x16 with 1 channel, the train split's 8x8"),
    ((8, 8, 3), 0, "the test split's images are 8x8 with 3 channels"),
    ((8, 8, 1), 10, 'test split: labels (after offset 0) span 10..19; expected 0..9'),
])
def test_splits_that_cannot_be_measured_alike_are_refused(tmp_path, test_shape, shift, message):
  write_npz(tmp_path / 'd.npz', test_shape=test_shape, test_label_shift=shift)
  with pytest.raises(DataError, match='') as e:
    data.load(npz_config(tmp_path / 'd.npz'))
  assert message in str(e.value) and '\n' not in str(e.value)


def test_resuming_checks_the_checkpoints_identity_not_config_json(partial, reference):
  os.remove(Path(partial, 'config.json'))
  before = listing(partial)
  status, _, err = train_cli(partial, '--config.search.target=50')
  assert status == 2
  one_line(err, 'was written by another run', 'config.search.target: 100.0 there, 50.0 here')
  assert listing(partial) == before  # config.json not rewritten with the wrong config
  resumes_to_the_end(partial, reference)


def test_data_changed_in_place_is_refused_on_resume(tmp_path):
  path = tmp_path / 'd.npz'
  write_npz(path)
  workdir = str(tmp_path / 'run')
  assert trainer.train_and_evaluate(npz_config(path), workdir, quiet=True,
                                    should_stop=lambda h: True) is None
  with np.load(path) as f:
    arrays = dict(f)
  arrays['x_test'][0, 0, 0, 0] ^= 1  # one pixel of the test split
  np.savez(path, **arrays)
  with pytest.raises(checkpoint.IdentityError, match=r'the test split: its hash differ'):
    trainer.train_and_evaluate(npz_config(path), workdir, quiet=True)


def test_a_summary_means_every_artifact_was_written(finished, monkeypatch):
  for name in ('summary.json', 'report.md'):
    os.remove(Path(finished, name))
  from odn_jax.results import markdown  # pylint: disable=g-import-not-at-top
  def fail(*args, **kwargs):
    raise OSError(errno.EIO, 'killed while writing the report')
  monkeypatch.setattr(markdown, 'write_report', fail)
  with pytest.raises(OSError):
    trainer.train_and_evaluate(tiny(), finished, quiet=True)
  assert not Path(finished, 'summary.json').exists()  # not finished: the rerun completes it
  monkeypatch.undo()
  summary = trainer.train_and_evaluate(tiny(), finished, quiet=True)
  assert Path(finished, 'report.md').exists() and summary['epochs_total'] == 5


# ------------------------------------------------------------------- the user's mistakes

@pytest.mark.parametrize('key,value,message', [
    ('data.mean', ('abc',), 'config.data.mean must be a tuple of numbers'),
    ('seed', -1, 'config.seed must be in 0..2**31-1'),
    ('data.split_seed', -1, 'config.data.split_seed must be None or in 0..2**32-1'),
    ('data.train_subset', -100, 'config.data.train_subset must be >= 0'),
    ('warmup.epochs', -1, 'config.warmup.epochs must be >= 0'),
    ('warmup.learning_rate', float('nan'), 'config.warmup.learning_rate must be a finite'),
    ('model.width', 0, 'config.model.width must be >= 1'),
    ('search.plateau_factor', 0.0, 'config.search.plateau_factor must be in (0, 1]'),
    ('grow.carry', 1.5, 'config.grow.carry must be in [0.0, 1.0]'),
])
def test_every_key_is_checked_for_type_and_range(key, value, message):
  config = tiny()
  group, _, name = key.rpartition('.')
  (config[group] if group else config)[name] = value
  with pytest.raises(ConfigError) as e:
    trainer.check_config(config)
  assert message in str(e.value)


def test_a_misspelt_key_is_named_with_the_nearest(tmp_path):
  config = tiny()
  config.serach = config.search.copy_and_resolve_references()
  with pytest.raises(ConfigError, match=r'unknown config key config\.serach.*did you mean '
                                        r'config\.search'):
    validate.check(config)
  status, _, err = train_cli(tmp_path / 'run', '--config.serach.target=90')
  assert status == 2
  one_line(err, 'unknown config key', 'serach', 'did you mean "search"')
  assert not (tmp_path / 'run').exists()


@pytest.mark.parametrize('args,message', [
    (['--config=quickstart:fastt'], "unknown schedule 'fastt'"),
    (['--config=quickstart', '--config.seed=1.5'], 'flag --config.seed=1.5'),
    (['--config=quickstart', '--config.distributed=True'], 'no cluster to join'),
])
def test_flags_the_run_cannot_take_are_one_line(tmp_path, args, message):
  status, _, err = cli('train', *args, f'--workdir={tmp_path / "run"}')
  assert status == 2
  one_line(err, message)
  assert not (tmp_path / 'run').exists()


@pytest.mark.parametrize('content', [b'', b'not an npz\n', None])
def test_broken_data_files_are_one_line(tmp_path, content):
  path = tmp_path / 'd.npz'
  if content is None:  # an object array: np.load refuses to unpickle it
    np.savez(path, x_train=np.array([{}] * 3, dtype=object), y_train=np.zeros(3, int),
             x_test=np.zeros((3, 8, 8), np.uint8), y_test=np.zeros(3, int))
  else:
    path.write_bytes(content)
  with pytest.raises(DataError, match=r'is not a readable \.npz of arrays'):
    data.load(npz_config(path))


def test_broken_idx_files_are_one_line(tmp_path):
  from tests.helpers import write_idx  # pylint: disable=g-import-not-at-top
  folder = tmp_path / 'idx'
  folder.mkdir()
  for split, stem in (('train', 'train'), ('test', 't10k')):
    write_idx(str(folder / f'{stem}-images-idx3-ubyte.gz'), np.zeros((20, 8, 8), np.uint8))
    write_idx(str(folder / f'{stem}-labels-idx1-ubyte.gz'), np.arange(20) % 10)
  raw = (folder / 'train-images-idx3-ubyte.gz').read_bytes()
  (folder / 'train-images-idx3-ubyte.gz').write_bytes(raw[:len(raw) // 2])
  config = tiny(**{'data.source': 'idx', 'data.path': str(folder), 'data.name': 'mnist'})
  with pytest.raises(DataError, match='is a damaged gzip file'):
    data.load(config)
  (tmp_path / 'a.zip').write_text('not a zip')
  with pytest.raises(DataError, match='is a file but not a readable .zip'):
    data.load(tiny(**{'data.source': 'idx', 'data.path': str(tmp_path / 'a.zip')}))


def test_a_damaged_run_file_names_itself_and_the_fix(finished):
  readers = {'summary.json': record_files.load_summary, 'config.json': workdir_lib.load_config,
             'history.json': record_files.load_history}
  for name, reader in readers.items():
    Path(finished, name).write_text('{"optimal_depth": 2, "te')  # cut short
    with pytest.raises(workdir_lib.RunFileError, match=name + r' cannot be read \(not valid JSON.*'
                                                       r'delete .*rerun launch/train.py'):
      reader(finished)
  # Training repairs them all: the checkpoints hold the run's own record.
  summary = trainer.train_and_evaluate(tiny(), finished, quiet=True)
  assert summary['epochs_total'] == 5
  assert len(record_files.load_history(finished)) == 5
  assert workdir_lib.load_config(finished).search.target == 100.0
  assert record_files.load_summary(finished).epochs_total == 5


def test_a_damaged_summary_is_one_line_in_the_tools(finished):
  Path(finished, 'summary.json').write_text('')
  status, _, err = cli('report', f'--workdir={finished}')
  assert status == 2
  one_line(err, 'summary.json cannot be read (empty)', 'delete it and rerun launch/train.py')
  status, _, err = cli('compare', finished, finished, '--markdown=/nonexistent/dir/t.md')
  assert status == 2
  one_line(err, 'summary.json')


# ------------------------------------------------------------------- signals and saves

def test_ctrl_c_saves_and_exits_130_with_the_resume_line(partial, reference):
  process = subprocess.Popen(
      [sys.executable, str(ROOT / 'launch/train.py'), '--config=quickstart',
       f'--workdir={partial}', *[f'--config.{k}={v}' for k, v in TINY.items()]],
      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
  for line in process.stdout:  # once it has resumed, Ctrl-C (twice: the save is not cut)
    if line.startswith('resumed'):
      break
  process.send_signal(signal.SIGINT)
  time.sleep(0.05)
  process.send_signal(signal.SIGINT)
  _, err = process.communicate(timeout=120)
  assert process.returncode == 130, err[-3000:]
  assert 'Traceback' not in err
  assert 'rerun the same command to resume' in err.strip().splitlines()[-1]
  assert not [p for p in Path(partial, 'checkpoints').iterdir() if 'tmp' in p.name]
  resumes_to_the_end(partial, reference)


def test_the_signal_handler_catches_ctrl_c_for_the_whole_block():
  with preemption.signal_flag() as flag:
    os.kill(os.getpid(), signal.SIGINT)
    time.sleep(0.01)
    assert flag.is_set() and flag.signum == signal.SIGINT
    os.kill(os.getpid(), signal.SIGTERM)  # a second signal: still caught, not fatal
    time.sleep(0.01)
  assert flag.signum == signal.SIGINT


def test_a_corrupt_latest_checkpoint_falls_back_to_an_intact_one(partial, reference, capsys):
  steps = sorted(p for p in Path(partial, 'checkpoints').iterdir() if p.name.isdigit())
  assert len(steps) == 3
  for f in steps[-1].rglob('*'):
    if f.is_file():
      f.write_bytes(b'garbage')
  summary = resumes_to_the_end(partial, reference)
  assert 'cannot be restored' in capsys.readouterr().err
  assert Path(partial, 'checkpoints', steps[-1].name + '.corrupt').is_dir()  # kept, aside
  assert summary['epochs_total'] == 5


def test_a_full_disk_is_one_line_and_the_run_resumes(partial, reference, monkeypatch):
  real = checkpoint.save_epoch

  def full(*args, **kwargs):
    raise OSError(errno.ENOSPC, 'No space left on device')
  monkeypatch.setattr(checkpoint, 'save_epoch', full)
  with pytest.raises(OSError):
    trainer.train_and_evaluate(tiny(), partial, quiet=True)
  monkeypatch.setattr(checkpoint, 'save_epoch', real)
  resumes_to_the_end(partial, reference)
  code = textwrap.dedent('''
      import errno
      from odn_jax.cli.main import run_main
      def main(argv):
        raise OSError(errno.ENOSPC, 'No space left on device', '/run/checkpoints/x')
      run_main(main)
  ''')
  out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                       check=False, cwd=ROOT, timeout=120)
  assert out.returncode == 2
  one_line(out.stderr, 'no space left on the device writing /run/checkpoints/x',
           'rerun the same command to resume')


def test_predict_refuses_broken_or_non_finite_input(tmp_path):
  empty, nans = tmp_path / 'empty.npz', tmp_path / 'nan.npz'
  empty.write_bytes(b'')
  np.savez(nans, x=np.full((2, 8, 8, 1), np.nan, np.float32))
  code = textwrap.dedent(f'''
      import sys
      sys.argv = ['predict']
      from launch import predict
      from odn_jax.errors import UserError
      for path in ({str(empty)!r}, {str(nans)!r}):
        try:
          predict.read_inputs([path], (8, 8, 1))
        except UserError as e:
          print('refused:', e)
  ''')
  out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                       check=False, cwd=ROOT, timeout=120)
  lines = out.stdout.strip().splitlines()
  assert len(lines) == 2, out.stderr[-3000:]
  assert 'is not an .npz file of arrays' in lines[0]
  assert '2 of the 2 images hold NaN or infinite pixels' in lines[1]
