r"""A sweep of faults and bad inputs against the CLI, as a careful user would make them.

  python benchmarks/fault_sweep.py [--only=CLASS] [--out=/tmp/fault_sweep.json]

Each case runs a launcher in a fresh copy of a tiny run (or an empty folder) and is
"clean" when the exit status is the expected one, a failure ends in one line `error: ...`
(no traceback), and what must survive did (files unchanged, the run resumable, the
summary equal to the uninterrupted run's). Prints one line per case and the count per
class; writes every result as JSON. Takes about 10 minutes on 2 cores.
"""

import argparse
import collections
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable
TINY = ['--config=quickstart', '--config.model.width=4', '--config.batch_size=16',
        '--config.precise_bn_batches=2', '--config.warmup.epochs=1',
        '--config.search.target=100.0', '--config.search.max_epochs_per_depth=2',
        '--config.search.max_epochs_total=5', '--config.early_exit_epochs=1',
        '--config.measure_throughput=False']
SAME = ('optimal_depth', 'test_accuracy', 'val_accuracy', 'epochs_total', 'per_depth')


def run(tool, *args, timeout=600):
  out = subprocess.run([PY, str(ROOT / 'launch' / f'{tool}.py'), *map(str, args)],
                       capture_output=True, text=True, timeout=timeout, check=False, cwd=ROOT)
  return out.returncode, out.stdout, out.stderr


def train(workdir, *args):
  return run('train', *TINY, f'--workdir={workdir}', *args)


def listing(folder):
  root = Path(folder)
  if not root.exists():
    return None
  return {str(p.relative_to(root)): p.stat().st_size for p in sorted(root.rglob('*'))
          if p.is_file() and p.name != 'run.lock'}


def history_len(workdir):
  try:
    return len(json.loads(Path(workdir, 'history.json').read_text()))
  except (OSError, ValueError):
    return 0


def one_line_error(status, err, expect_status=2, contains=()):
  """'' when the failure is clean, else why not."""
  if 'Traceback' in err:
    return 'traceback: ' + err.strip().splitlines()[-1][:150]
  if status != expect_status:
    return f'exit {status}, expected {expect_status}: ' + (err.strip().splitlines() or [''])[-1][:150]
  last = (err.strip().splitlines() or [''])[-1]
  if expect_status == 2 and not last.startswith('error: '):
    return 'last line is not "error: ...": ' + last[:150]
  for part in contains:
    if part not in last:
      return f'message lacks {part!r}: {last[:200]}'
  return ''


class Sweep:
  def __init__(self, base):
    self.base, self.results = Path(base), []
    self.finished = self.partial = self.reference = None

  def folder(self, name, create=True):
    path = self.base / 'cases' / name
    if path.is_file():
      path.unlink()
    shutil.rmtree(path, ignore_errors=True)
    (path if create else path.parent).mkdir(parents=True, exist_ok=True)
    return path

  def copy(self, which, name):
    path = self.folder(name, create=False)
    shutil.copytree(self.partial if which == 'partial' else self.finished, path)
    return path

  def record(self, cls, name, problem, message=''):
    ok = not problem
    self.results.append({'class': cls, 'case': name, 'clean': ok, 'problem': problem,
                         'message': message[:300]})
    print(f'{"clean" if ok else "FAULT"}  {cls:<10} {name:<48} {problem or message}'[:240],
          flush=True)

  def resumes(self, workdir):
    """'' when the run in `workdir` finishes to the reference summary."""
    status, _, err = train(workdir)
    if status != 0:
      return f'the rerun failed (exit {status}): {err.strip().splitlines()[-1][:150]}'
    summary = json.loads(Path(workdir, 'summary.json').read_text())
    differ = [k for k in SAME if summary[k] != self.reference[k]]
    return f'the resumed summary differs in {differ}' if differ else ''

  # ------------------------------------------------------------------ the runs shared
  def prepare_runs(self):
    self.partial = self.base / 'partial'
    self.finished = self.base / 'finished'
    if not (self.finished / 'summary.json').exists():
      shutil.rmtree(self.base / 'partial', ignore_errors=True)
      process = subprocess.Popen([PY, str(ROOT / 'launch/train.py'), *TINY,
                                  f'--workdir={self.partial}'], cwd=ROOT,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
      while history_len(self.partial) < 3 and process.poll() is None:
        time.sleep(0.05)
      process.send_signal(signal.SIGTERM)
      assert process.wait() == 75
      shutil.rmtree(self.finished, ignore_errors=True)
      shutil.copytree(self.partial, self.finished)
      status, _, err = train(self.finished)
      assert status == 0, err[-2000:]
    self.reference = json.loads((self.finished / 'summary.json').read_text())

  # ------------------------------------------------------------------ config values
  def config_cases(self):
    bad = ['--config.serach.target=90', '--config.search.patiense=3', '--config.data.nmae=x',
           '--config.model.widht=4', '--config.seed=-1', '--config.seed=1.5',
           '--config.seed=abc', '--config.seed=99999999999', '--config.data.split_seed=-1',
           '--config.data.mean=abc', '--config.data.mean=(0.1,0.2)', '--config.data.std=(0.0,)',
           '--config.data.std=(-1.0,)', '--config.data.train_subset=-100',
           '--config.warmup.epochs=-1', '--config.warmup.learning_rate=nan',
           '--config.warmup.learning_rate=inf', '--config.warmup.learning_rate=0',
           '--config.search.learning_rate=-1', '--config.batch_size=0',
           '--config.batch_size=-5', '--config.eval_batch_size=0', '--config.checkpoint.keep=0',
           '--config.checkpoint.keep=-1', '--config.model.width=0', '--config.model.max_depth=9',
           '--config.model.max_depth=-1', '--config.model.arch=resnet19',
           '--config.search.target=120', '--config.search.target=0',
           '--config.search.tolerance=-1', '--config.search.patience=0',
           '--config.search.mode=fastest', '--config.search.start=middle',
           '--config.grow.init=zeros', '--config.grow.carry=2', '--config.optim.momentum=1.5',
           '--config.data.num_classes=1', '--config.data.source=ftp',
           '--config.search.mode=budget', '--config.precise_bn_batches=-1',
           '--config.early_exit_epochs=-1', '--config.search.plateau_factor=0',
           '--config.data.prefetch=-1', '--config.search.grow_decimals=-1',
           '--config.data.augment=maybe', '--config.distributed=True',
           '--config.search.finetune_learning_rate=-0.1']
    for flag in bad:
      workdir = self.folder('config') / 'run'
      status, _, err = train(workdir, flag)
      problem = one_line_error(status, err)
      if not problem and workdir.exists():
        problem = 'the workdir was created for a run that never started'
      self.record('config', flag, problem, err.strip().splitlines()[-1] if err.strip() else '')
    for spec in ('quickstart:fastt', 'quickstartt', '/nonexistent/config.py', 'configs'):
      workdir = self.folder('config') / 'run'
      status, _, err = run('train', f'--config={spec}', f'--workdir={workdir}')
      self.record('config', f'--config={spec}', one_line_error(status, err),
                  err.strip().splitlines()[-1] if err.strip() else '')

  # ------------------------------------------------------------------ the workdir
  def workdir_cases(self):
    cls = 'workdir'
    path = self.folder('file', create=False)
    path.write_text('mine')
    status, _, err = train(path)
    problem = one_line_error(status, err, contains=('is a file',))
    self.record(cls, 'workdir is a file', problem or ('' if path.read_text() == 'mine' else
                                                      'the file changed'), err[-200:])
    status, _, err = train(path, '--fresh')
    problem = one_line_error(status, err) or ('' if path.read_text() == 'mine' else 'deleted')
    self.record(cls, '--fresh on a file', problem, err[-200:])
    for where in ('/proc/odn_sweep/run', '/sys/odn_sweep'):
      status, _, err = train(where)
      self.record(cls, f'unwritable parent {where}', one_line_error(status, err), err[-200:])
    folder = self.folder('notes')
    (folder / 'notes.txt').write_text('mine')
    status, _, err = train(folder, '--fresh')
    problem = one_line_error(status, err, contains=('--fresh refused',))
    if not problem and sorted(os.listdir(folder)) != ['notes.txt']:
      problem = f'the folder holds {sorted(os.listdir(folder))}'
    self.record(cls, '--fresh on a folder without a run', problem, err[-200:])
    workdir = self.copy('finished', 'fresh_bad')
    before = listing(workdir)
    status, _, err = train(workdir, '--fresh', '--config.batch_size=0')
    problem = one_line_error(status, err) or ('' if listing(workdir) == before else 'files lost')
    self.record(cls, '--fresh with an invalid config', problem, err[-200:])
    workdir = self.copy('finished', 'fresh_data')
    before = listing(workdir)
    status, _, err = train(workdir, '--fresh', '--config.data.source=npz',
                           '--config.data.path=/nonexistent.npz')
    problem = one_line_error(status, err) or ('' if listing(workdir) == before else 'files lost')
    self.record(cls, '--fresh with missing data', problem, err[-200:])
    workdir = self.copy('finished', 'fresh_ok')
    (workdir / 'notes.txt').write_text('mine')
    status, _, err = train(workdir, '--fresh')
    problem = '' if status == 0 and (workdir / 'notes.txt').exists() else f'exit {status}'
    self.record(cls, '--fresh on a finished run keeps other files', problem, err[-200:])
    workdir = self.copy('finished', 'other')
    before = listing(workdir)
    status, _, err = train(workdir, '--config.search.target=50')
    problem = one_line_error(status, err, contains=('another config',))
    self.record(cls, 'a finished run, another config', problem or (
        '' if listing(workdir) == before else 'files changed'), err[-200:])
    status, out, err = train(self.copy('finished', 'again'))
    self.record(cls, 'a finished run rerun', '' if status == 0 and 'optimal depth' in out
                else f'exit {status}', '')
    workdir = self.copy('partial', 'lock')
    process = subprocess.Popen([PY, str(ROOT / 'launch/train.py'), *TINY, f'--workdir={workdir}'],
                               cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                               text=True)
    for line in process.stdout:
      if line.startswith('resumed'):
        break
    status, _, err = train(workdir)
    problem = one_line_error(status, err, contains=('in use by another run',
                                                    f'pid {process.pid}'))
    process.communicate(timeout=600)
    if not problem and process.returncode != 0:
      problem = f'the first run failed: exit {process.returncode}'
    self.record(cls, 'a second run on a workdir in use', problem, err[-200:])
    workdir = self.copy('partial', 'stale')
    (workdir / 'run.lock').write_text('pid 999999 on elsewhere since 2020: dead\n')
    self.record(cls, 'a stale lock of a dead process', self.resumes(workdir))
    status, _, err = train('')
    self.record(cls, 'an empty --workdir', one_line_error(status, err), err[-200:])

  # ------------------------------------------------------------------ data files
  def data_cases(self):
    cls = 'data'
    folder = self.folder('data')
    with np.load(ROOT / 'odn_jax/data/digits.npz') as f:
      digits = {k: f[k] for k in f.files}
    good = {k: digits[k] for k in ('x_train', 'y_train', 'x_test', 'y_test')}

    def npz(name, **arrays):
      np.savez(folder / name, **{**good, **arrays})
      return folder / name
    files = {}
    files['empty .npz'] = folder / 'empty.npz'
    files['empty .npz'].write_bytes(b'')
    files['text .npz'] = folder / 'text.npz'
    files['text .npz'].write_text('x,y\n1,2\n')
    files['object .npz'] = npz('objects.npz', x_train=np.array([{}] * 10, dtype=object))
    np.save(folder / 'single.npy', digits['x_train'])
    files['a .npy named .npz'] = folder / 'single.npy'
    raw = npz('good.npz').read_bytes()
    files['truncated .npz'] = folder / 'trunc.npz'
    files['truncated .npz'].write_bytes(raw[:len(raw) // 2])
    damaged = bytearray(raw)
    damaged[len(raw) // 3:len(raw) // 3 + 300] = bytes(300)
    files['corrupt .npz'] = folder / 'corrupt.npz'
    files['corrupt .npz'].write_bytes(bytes(damaged))
    np.savez(folder / 'lacks.npz', x_train=good['x_train'], y_train=good['y_train'])
    files['.npz without a test split'] = folder / 'lacks.npz'
    files['float images'] = npz('float.npz', x_train=good['x_train'].astype(np.float32) / 255)
    files['labels out of range'] = npz('labels.npz', y_test=good['y_test'] + 10)
    files['test split 16x16, train 8x8'] = npz(
        'shape.npz', x_test=np.zeros((len(good['y_test']), 16, 16, 1), np.uint8) + 9)
    files['test split 3 channels, train 1'] = npz(
        'channels.npz', x_test=np.repeat(good['x_test'], 3, axis=-1))
    files['labels of another length'] = npz('length.npz', y_test=good['y_test'][:10])
    files['a missing file'] = folder / 'missing.npz'
    for name, path in files.items():
      workdir = self.folder('datarun') / 'run'
      status, _, err = train(workdir, '--config.data.source=npz', f'--config.data.path={path}',
                             '--config.data.num_train=800', '--config.data.num_val=0',
                             '--config.data.split_seed=0')
      self.record(cls, name, one_line_error(status, err), err.strip().splitlines()[-1][:200]
                  if err.strip() else '')
    from tests.helpers import write_idx  # pylint: disable=g-import-not-at-top
    ok = folder / 'idx'
    ok.mkdir(exist_ok=True)
    for split, stem in (('train', 'train'), ('test', 't10k')):
      write_idx(str(ok / f'{stem}-images-idx3-ubyte.gz'), good[f'x_{split}'][..., 0])
      write_idx(str(ok / f'{stem}-labels-idx1-ubyte.gz'), good[f'y_{split}'])
    cases = {}
    for kind in ('truncated', 'corrupt', 'not gzip'):
      bad = folder / f'idx_{kind}'
      shutil.copytree(ok, bad, dirs_exist_ok=True)
      target = bad / 'train-images-idx3-ubyte.gz'
      raw = target.read_bytes()
      target.write_bytes(raw[:len(raw) // 2] if kind == 'truncated' else
                         raw[:20] + bytes(200) + raw[220:] if kind == 'corrupt' else
                         b'\x1f\x8bnot gzip at all')
      cases[f'a {kind} .gz IDX file'] = bad
    (folder / 'notzip.zip').write_text('not a zip')
    cases['a .zip that is not one'] = folder / 'notzip.zip'
    archive = shutil.make_archive(str(folder / 'idx_zip'), 'zip', ok)
    raw = Path(archive).read_bytes()
    (folder / 'trunc.zip').write_bytes(raw[:len(raw) // 2])
    cases['a truncated .zip'] = folder / 'trunc.zip'
    (folder / 'noheader').mkdir(exist_ok=True)
    shutil.copytree(ok, folder / 'noheader', dirs_exist_ok=True)
    (folder / 'noheader/t10k-labels-idx1-ubyte.gz').unlink()
    (folder / 'noheader/t10k-labels-idx1-ubyte').write_bytes(b'garbage bytes')
    cases['an IDX file without its header'] = folder / 'noheader'
    for name, path in cases.items():
      workdir = self.folder('datarun') / 'run'
      status, _, err = train(workdir, '--config.data.source=idx', f'--config.data.path={path}',
                             '--config.data.name=mnist', '--config.data.num_train=800',
                             '--config.data.num_val=0', '--config.data.split_seed=0')
      self.record(cls, name, one_line_error(status, err), err.strip().splitlines()[-1][:200]
                  if err.strip() else '')
    workdir = self.folder('datarun') / 'run'
    status, _, err = train(workdir, '--config.data.mean=(0.5,0.5,0.5)',
                           '--config.data.std=(0.5,0.5,0.5)')
    self.record(cls, 'mean/std for 3 channels, images of 1', one_line_error(status, err),
                err[-200:])

  # ------------------------------------------------------------------ the run's files
  def file_cases(self):
    cls = 'files'
    damage = {'empty': '', 'truncated': '{"optimal_depth": 2, "te', 'not JSON': 'hello'}
    for name in ('summary.json', 'config.json', 'history.json', 'optimal/model.json'):
      for kind, text in damage.items():
        if name != 'summary.json' and kind == 'not JSON':
          continue
        for tool in (('report', 'evaluate', 'compare') if name == 'summary.json' else
                     ('report', 'evaluate')):
          workdir = self.copy('finished', 'files')
          Path(workdir, name).write_text(text)
          args = ([workdir, workdir] if tool == 'compare' else [f'--workdir={workdir}'])
          status, _, err = run(tool, *args)
          problem = one_line_error(status, err, contains=(name.split('/')[-1],))
          self.record(cls, f'{kind} {name}: {tool}', problem, err[-200:])
        if kind != 'truncated':
          continue
        workdir = self.copy('finished', 'files')
        Path(workdir, name).write_text(text)
        status, _, err = train(workdir)
        problem = '' if status == 0 else f'train exit {status}: {err[-200:]}'
        if not problem and name != 'optimal/model.json':
          try:
            json.loads(Path(workdir, name).read_text())
          except ValueError:
            problem = f'{name} is still damaged after the rerun'
        self.record(cls, f'{kind} {name}: train repairs', problem, err[-200:])
    for tool in ('report', 'evaluate'):
      status, _, err = run(tool, '--workdir=/nonexistent/run')
      self.record(cls, f'{tool} on a missing workdir', one_line_error(status, err), err[-200:])
      status, _, err = run(tool, f'--workdir={self.copy("partial", "unfinished")}')
      self.record(cls, f'{tool} on an unfinished run', one_line_error(status, err), err[-200:])

  # ------------------------------------------------------------------ signals and kills
  def signal_cases(self):
    cls = 'signals'

    def start(workdir):
      process = subprocess.Popen([PY, str(ROOT / 'launch/train.py'), *TINY,
                                  f'--workdir={workdir}'], cwd=ROOT, stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True)
      for line in process.stdout:
        if line.startswith('resumed'):
          break
      return process

    for name, sigs, expect in (('SIGTERM', [signal.SIGTERM], 75),
                               ('Ctrl-C', [signal.SIGINT], 130),
                               ('Ctrl-C twice', [signal.SIGINT, signal.SIGINT], 130),
                               ('SIGTERM twice', [signal.SIGTERM, signal.SIGTERM], 75),
                               ('SIGTERM then Ctrl-C', [signal.SIGTERM, signal.SIGINT], 75)):
      workdir = self.copy('partial', 'sig')
      process = start(workdir)
      time.sleep(0.5)
      for s in sigs:
        process.send_signal(s)
        time.sleep(0.02)
      _, err = process.communicate(timeout=600)
      last = (err.strip().splitlines() or [''])[-1]
      problem = ''
      if process.returncode != expect or 'Traceback' in err:
        problem = f'exit {process.returncode}: {last[:150]}'
      elif 'rerun the same command to resume' not in last:
        problem = f'no resume line: {last[:150]}'
      elif [p for p in Path(workdir, 'checkpoints').iterdir() if 'tmp' in p.name]:
        problem = 'a temporary checkpoint was left behind'
      self.record(cls, name, problem or self.resumes(workdir), last)
    for when in (0.0, 0.3, 1.0):
      workdir = self.copy('partial', 'kill')
      process = subprocess.Popen([PY, str(ROOT / 'launch/train.py'), *TINY,
                                  f'--workdir={workdir}'], cwd=ROOT,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
      while history_len(workdir) < 4 and process.poll() is None:
        time.sleep(0.01)
      time.sleep(when)
      process.kill()
      process.wait()
      reported = history_len(workdir)
      from odn_jax.run import checkpoint  # pylint: disable=g-import-not-at-top
      mngr = checkpoint.manager(str(workdir))
      saved = len(checkpoint.restore_meta(mngr, mngr.latest_step())['history'])
      mngr.close()
      problem = '' if saved >= reported else f'{reported} epochs reported, {saved} saved'
      self.record(cls, f'kill -9 {when:g}s after an epoch', problem or self.resumes(workdir))
    workdir = self.copy('finished', 'no_summary')
    for name in ('summary.json', 'report.md'):
      Path(workdir, name).unlink()
    shutil.rmtree(Path(workdir, 'plots'))
    problem = self.resumes(workdir)
    if not problem and not Path(workdir, 'report.md').exists():
      problem = 'report.md not written'
    self.record(cls, 'killed before the report: rerun writes it', problem)
    for count in (1, 3):
      workdir = self.copy('partial', 'corrupt')
      steps = sorted(p for p in Path(workdir, 'checkpoints').iterdir() if p.name.isdigit())
      for step in steps[-count:]:
        for f in step.rglob('*'):
          if f.is_file():
            f.write_bytes(b'garbage')
      if count < len(steps):
        status, _, err = train(workdir)
        problem = '' if status == 0 and 'cannot be restored' in err else f'exit {status}'
        self.record(cls, 'a corrupt latest checkpoint falls back', problem,
                    [l for l in err.splitlines() if 'warning' in l][:1].__repr__())
      else:
        status, _, err = train(workdir)
        self.record(cls, 'every checkpoint corrupt', one_line_error(
            status, err, contains=('cannot be restored',)), err[-200:])
    workdir = self.copy('partial', 'tmpleft')
    Path(workdir, 'checkpoints/000999.orbax-checkpoint-tmp-1').mkdir()
    Path(workdir, 'history.json.tmp').write_text('{')
    self.record(cls, 'temporaries left by a crash', self.resumes(workdir))

  # ------------------------------------------------------------------ the run's identity
  def identity_cases(self):
    cls = 'identity'
    for name, flag in (('another target', '--config.search.target=50'),
                       ('another train_subset', '--config.data.train_subset=100'),
                       ('another seed', '--config.seed=3')):
      workdir = self.copy('partial', 'ident')
      Path(workdir, 'config.json').unlink()
      before = listing(workdir)
      status, _, err = train(workdir, flag)
      problem = one_line_error(status, err, contains=('written by another run',))
      if not problem and listing(workdir) != before:
        problem = 'files changed'
      self.record(cls, f'config.json deleted, {name}', problem or self.resumes(workdir),
                  err[-200:])
    folder = self.folder('identdata')
    with np.load(ROOT / 'odn_jax/data/digits.npz') as f:
      arrays = {k: f[k] for k in f.files}
    np.savez(folder / 'd.npz', **arrays)
    flags = ['--config.data.source=npz', f'--config.data.path={folder / "d.npz"}']
    workdir = folder / 'run'
    process = subprocess.Popen([PY, str(ROOT / 'launch/train.py'), *TINY, *flags,
                                f'--workdir={workdir}'], cwd=ROOT, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    while history_len(workdir) < 2 and process.poll() is None:
      time.sleep(0.05)
    process.send_signal(signal.SIGTERM)
    process.wait()
    arrays['x_test'][0, 0, 0, 0] ^= 1
    np.savez(folder / 'd.npz', **arrays)
    status, _, err = train(workdir, *flags)
    self.record(cls, 'a data file changed in place', one_line_error(
        status, err, contains=('the test split: its hash differ',)), err[-200:])
    arrays['x_test'][0, 0, 0, 0] ^= 1
    np.savez(folder / 'moved.npz', **arrays)
    status, _, err = train(workdir, '--config.data.source=npz',
                           f'--config.data.path={folder / "moved.npz"}')
    self.record(cls, 'the same data moved (config.json deleted)', one_line_error(
        status, err, contains=('another config',)), err[-200:])

  # ------------------------------------------------------------------ tools
  def tool_cases(self):
    cls = 'tools'
    folder = self.folder('tools')
    model = folder / 'model.bin'
    status, _, err = run('export', f'--workdir={self.finished}', f'--output={model}')
    if status != 0:
      self.record(cls, 'export for predict', f'exit {status}: {err[-200:]}')
      return
    inputs = {'0-byte .npz': b'', 'text .npz': b'hello\n'}
    for name, blob in inputs.items():
      (folder / 'in.npz').write_bytes(blob)
      status, _, err = run('predict', f'--model={model}', f'--input={folder / "in.npz"}')
      self.record(cls, f'predict on a {name}', one_line_error(status, err), err[-200:])
    arrays = {'NaN images': np.full((3, 8, 8, 1), np.nan, np.float32),
              'inf images': np.full((3, 8, 8, 1), np.inf, np.float32),
              'images of another shape': np.zeros((3, 16, 16, 1), np.uint8),
              'pixels above 255': np.full((3, 8, 8, 1), 300.0, np.float32),
              'string images': np.array([['a'] * 64] * 3).reshape(3, 8, 8, 1)}
    for name, x in arrays.items():
      np.savez(folder / 'in.npz', x=x)
      status, _, err = run('predict', f'--model={model}', f'--input={folder / "in.npz"}')
      self.record(cls, f'predict on {name}', one_line_error(status, err), err[-200:])
    (folder / 'img.png').write_text('not a png')
    status, _, err = run('predict', f'--model={model}', f'--input={folder / "img.png"}')
    self.record(cls, 'predict on a broken .png', one_line_error(status, err), err[-200:])
    status, _, err = run('predict', f'--model={folder / "missing.bin"}', '--input=x.png')
    self.record(cls, 'predict with a missing model', one_line_error(status, err), err[-200:])
    (folder / 'bad.bin').write_bytes(b'garbage')
    status, _, err = run('predict', f'--model={folder / "bad.bin"}', f'--input={folder / "img.png"}')
    self.record(cls, 'predict with a broken model file', one_line_error(status, err), err[-200:])
    bad = self.copy('finished', 'badsummary')
    Path(bad, 'summary.json').write_text('{"optimal_depth": ')
    status, _, err = run('compare', self.finished, bad)
    self.record(cls, 'compare with a malformed summary', one_line_error(status, err), err[-200:])
    for target in ('/nonexistent/dir/t.md', '/proc/t.md', str(folder)):
      status, _, err = run('compare', self.finished, self.finished, f'--markdown={target}')
      self.record(cls, f'compare --markdown={target}', one_line_error(status, err), err[-200:])
    status, _, err = run('compare', '/nonexistent/run')
    self.record(cls, 'compare on a missing workdir', one_line_error(status, err), err[-200:])

  # ------------------------------------------------------------------ a full disk
  def disk_cases(self, small='/tmp/fullfs'):
    cls = 'disk'
    if not os.path.ismount(small):
      print(f'(no small file system mounted at {small}: mount -t tmpfs -o size=3m tmpfs '
            f'{small} to run the full-disk cases)')
      return
    for name in os.listdir(small):
      shutil.rmtree(Path(small, name), ignore_errors=True)
    workdir = Path(small, 'run')
    shutil.copytree(self.partial, workdir)
    filler = Path(small, 'filler')
    free = shutil.disk_usage(small).free
    with open(filler, 'wb') as f:  # leave a little room: the next checkpoint cannot fit
      f.write(b'\0' * max(free - 40_000, 0))
    status, _, err = train(workdir)
    self.record(cls, 'disk full while training', one_line_error(
        status, err, contains=('no space left',)), err.strip().splitlines()[-1][:200]
                if err.strip() else '')
    filler.unlink()
    self.record(cls, 'resumes once there is space', self.resumes(workdir))
    shutil.rmtree(workdir)
    with open(filler, 'wb') as f:
      f.write(b'\0' * shutil.disk_usage(small).free)
    status, _, err = train(workdir)
    self.record(cls, 'disk full before the workdir exists', one_line_error(status, err),
                err[-200:])
    filler.unlink()


def main():
  parser = argparse.ArgumentParser()
  parser.add_argument('--only', default='', help='classes, e.g. workdir,data')
  parser.add_argument('--base', default=os.path.join(tempfile.gettempdir(), 'odn_fault_sweep'))
  parser.add_argument('--out', default=os.path.join(tempfile.gettempdir(), 'fault_sweep.json'))
  args = parser.parse_args()
  sweep = Sweep(args.base)
  sweep.prepare_runs()
  for cls in ('config', 'workdir', 'data', 'file', 'signal', 'identity', 'tool', 'disk'):
    if not args.only or cls in args.only.split(','):
      getattr(sweep, f'{cls}_cases')()
  counts = collections.defaultdict(lambda: [0, 0])
  for r in sweep.results:
    counts[r['class']][0] += r['clean']
    counts[r['class']][1] += 1
  for cls, (clean, total) in counts.items():
    print(f'{cls:<10} {clean}/{total} clean')
  total = sum(t for _, t in counts.values())
  print(f'all        {sum(c for c, _ in counts.values())}/{total} clean')
  Path(args.out).write_text(json.dumps(sweep.results, indent=1))


if __name__ == '__main__':
  sys.path.insert(0, str(ROOT))
  main()
