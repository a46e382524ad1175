"""A real two-process jax.distributed job on localhost, against one process with two devices.

Each job starts launch/train.py twice with a SLURM step's environment (SLURM_JOB_ID,
SLURM_NTASKS=2, SLURM_PROCID, SLURM_LOCALID, SLURM_STEP_NODELIST=localhost) and
--config.distributed=True: jax.distributed.initialize() finds the other process through
JAX's own SLURM detection, on the port SLURM_JOB_ID picks, and the two form one job of
two CPU devices, the mesh one process makes of two forced CPU devices.
"""

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from conftest import CACHE_FLAG

ROOT = Path(__file__).resolve().parents[1]
QUICKSTART = str(ROOT / 'configs/quickstart.py')
# The quickstart's method, small: warm-up, depth 1, depth 2 (fine-tuned), the early exits;
# 16 steps an epoch, so a SIGTERM lands inside one.
SMALL = ('--config.model.width=4', '--config.model.max_depth=2',
         '--config.data.train_subset=512', '--config.batch_size=32',
         '--config.precise_bn_batches=2', '--config.warmup.epochs=1',
         '--config.search.max_epochs_per_depth=1', '--config.early_exit_epochs=1',
         '--config.measure_throughput=False', CACHE_FLAG)
TIMEOUT_S = 300

# Every write a process makes through Python (open for writing, rename, mkdir, delete),
# logged as JSON lines to $ODN_WRITE_LOG; then launch/train.py runs as its own main.
AUDITED_TRAIN = textwrap.dedent('''
    import json, os, runpy, sys
    log = open(os.environ['ODN_WRITE_LOG'], 'a', buffering=1)
    WRITES = {'os.rename': 2, 'os.replace': 2, 'os.mkdir': 1, 'os.remove': 1,
              'os.rmdir': 1, 'shutil.rmtree': 1}
    def hook(event, args):
      if event == 'open' and isinstance(args[0], (str, bytes, os.PathLike)):
        mode = args[1] or 'r'
        if isinstance(mode, str) and any(c in mode for c in 'wax+'):
          log.write(json.dumps([event, os.fsdecode(args[0])]) + '\\n')
      elif event in WRITES:
        log.write(json.dumps([event] + [os.fsdecode(a) for a in args[:WRITES[event]]
                                        if isinstance(a, (str, bytes, os.PathLike))]) + '\\n')
    sys.addaudithook(hook)
    sys.argv = sys.argv[1:]
    runpy.run_path(sys.argv[0], run_name='__main__')
''')


def free_job_id() -> int:
  """A SLURM_JOB_ID whose coordinator port (JAX: 61440 + id % 4096) is free here now."""
  rng = np.random.default_rng()
  for _ in range(100):
    job = int(rng.integers(1, 1 << 20))
    with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
      try:
        s.bind(('::', 61440 + job % 4096))
      except OSError:
        continue
    return job
  raise RuntimeError('no free port in 61440..65535')


def train_cmd(workdir, overrides, audit_log=None):
  cmd = [str(ROOT / 'launch/train.py'), f'--config={QUICKSTART}', f'--workdir={workdir}',
         *SMALL, *overrides]
  if audit_log is not None:
    return [sys.executable, '-c', AUDITED_TRAIN, *cmd]
  return [sys.executable, *cmd]


def base_env():
  env = {k: v for k, v in os.environ.items()
         if not k.startswith('SLURM_') and k != 'XLA_FLAGS'}
  return {**env, 'JAX_PLATFORMS': 'cpu', 'PYTHONPATH': str(ROOT)}


def start_job(workdir, overrides=(), overrides1=None, audit_dir=None) -> list[subprocess.Popen]:
  """Process 0 and 1 of one job; process 1 with `overrides1` in place of `overrides`."""
  job, processes = free_job_id(), []
  for i, extra in enumerate([overrides, overrides if overrides1 is None else overrides1]):
    env = {**base_env(), 'SLURM_JOB_ID': str(job), 'SLURM_NTASKS': '2', 'SLURM_PROCID': str(i),
           'SLURM_LOCALID': str(i), 'SLURM_STEP_NODELIST': 'localhost'}
    audit_log = None
    if audit_dir is not None:
      audit_log = env['ODN_WRITE_LOG'] = str(Path(audit_dir) / f'writes_{i}.jsonl')
    processes.append(subprocess.Popen(
        train_cmd(workdir, ['--config.distributed=True', *extra], audit_log), cwd=ROOT, env=env,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
  return processes


def finish(processes, timeout=TIMEOUT_S) -> list[tuple[int, str, str, float]]:
  """(exit status, stdout, stderr, seconds waited) of each process."""
  started, results = time.time(), []
  for p in processes:
    try:
      out, err = p.communicate(timeout=max(1.0, timeout - (time.time() - started)))
    except subprocess.TimeoutExpired:
      for q in processes:
        q.kill()
      raise
    results.append((p.returncode, out, err, time.time() - started))
  return results


def two_processes(workdir, *overrides, audit_dir=None):
  results = finish(start_job(workdir, overrides, audit_dir=audit_dir))
  for status, _, err, _ in results:
    assert status == 0, err[-3000:]
  return results


def read_json(workdir, name):
  return json.loads(Path(workdir, name).read_text())


@pytest.fixture(scope='module')
def one_process(tmp_path_factory):
  """The small quickstart as one process with two forced CPU devices: its workdir."""
  workdir = tmp_path_factory.mktemp('one_process') / 'run'
  env = {**base_env(), 'XLA_FLAGS': '--xla_force_host_platform_device_count=2'}
  out = subprocess.run(train_cmd(workdir, ()), cwd=ROOT, env=env, capture_output=True,
                       text=True, timeout=TIMEOUT_S, check=False)
  assert out.returncode == 0, out.stderr[-3000:]
  return workdir


@pytest.fixture(scope='module')
def two_process(tmp_path_factory):
  """The same as two processes of one CPU device each: (workdir, folder of write logs)."""
  root = tmp_path_factory.mktemp('two_process')
  two_processes(root / 'run', audit_dir=root)
  return root / 'run', root


@pytest.mark.slow  # whole (small) searches
def test_two_processes_equal_one_process_of_two_devices(one_process, two_process):
  one, two = read_json(one_process, 'history.json'), read_json(two_process[0], 'history.json')
  assert [(h['phase'], h['depth'], h['learning_rate']) for h in two] == \
         [(h['phase'], h['depth'], h['learning_rate']) for h in one]
  for a, b in zip(two, one):
    np.testing.assert_allclose(a['val_accuracy_per_head'], b['val_accuracy_per_head'],
                               atol=1e-6)
    np.testing.assert_allclose(a['loss'], b['loss'], rtol=1e-4)
  one, two = read_json(one_process, 'summary.json'), read_json(two_process[0], 'summary.json')
  assert two['num_devices'] == one['num_devices'] == 2
  assert (two['num_processes'], one['num_processes']) == (2, 1)
  assert two['optimal_depth'] == one['optimal_depth']
  assert two['epochs_total'] == one['epochs_total']
  np.testing.assert_allclose(two['test_accuracy'], one['test_accuracy'], atol=1e-6)
  np.testing.assert_allclose(two['val_accuracy'], one['val_accuracy'], atol=1e-6)


def run_files(workdir) -> list[str]:
  """The workdir's files, Orbax's own layout inside a checkpoint left out."""
  files = []
  for path in sorted(Path(workdir).rglob('*')):
    parts = path.relative_to(workdir).parts
    if parts[0] == 'checkpoints' and len(parts) > 2 or 'variables' in parts[:-1]:
      continue  # inside an epoch step or a saved-variables folder: Orbax's files
    if parts[0] == 'tensorboard' and len(parts) == 2:
      parts = ('tensorboard', 'events.out.tfevents')  # named by time, host and pid
    files.append('/'.join(parts))
  return files


@pytest.mark.slow  # whole (small) searches
def test_workdir_holds_the_files_of_one_process_each_written_once(one_process, two_process):
  workdir, logs = two_process
  assert run_files(workdir) == run_files(one_process)
  assert len(list(Path(workdir, 'tensorboard').iterdir())) == 1
  assert not list(Path(workdir).rglob('*.tmp'))
  # The workdir's own files are written by process 0 alone; process 1 writes only where
  # Orbax writes every host's part of a checkpoint.
  root = os.path.realpath(workdir)
  written = {}
  for i in (0, 1):
    for line in Path(logs, f'writes_{i}.jsonl').read_text().splitlines():
      for target in json.loads(line)[1:]:
        target = os.path.realpath(target)
        if target.startswith(root + os.sep):
          written.setdefault(os.path.relpath(target, root), set()).add(i)
  assert 'history.json' in written and 'summary.json' in written
  by_one = {k for k, v in written.items() if v == {1} or v == {0, 1}}
  orbax = {k for k in by_one
           if k.split(os.sep)[0] == 'checkpoints' and len(k.split(os.sep)) > 2
           or 'variables' in k.split(os.sep)}
  assert by_one == orbax, sorted(by_one - orbax)


@pytest.mark.slow  # whole (small) searches
def test_sigterm_to_one_process_stops_both_and_resumes_to_the_same_summary(
    two_process, tmp_path):
  workdir = tmp_path / 'run'
  processes = start_job(workdir)
  deadline = time.time() + TIMEOUT_S
  while (not Path(workdir, 'history.json').exists() and time.time() < deadline
         and all(p.poll() is None for p in processes)):
    time.sleep(0.1)
  time.sleep(0.3)  # into the second epoch
  processes[1].send_signal(signal.SIGTERM)
  results = finish(processes)
  assert [r[0] for r in results] == [75, 75], [r[2][-2000:] for r in results]
  # Both stopped at the same step (the one they agreed on) and said where.
  stops = [r[2].strip().splitlines()[-1] for r in results]
  assert stops[0] == stops[1] and stops[0].startswith('preempted: preempted at epoch'), stops
  assert not Path(workdir, 'summary.json').exists()
  results = two_processes(workdir)
  assert 'resumed' in results[0][1]
  resumed, uninterrupted = read_json(workdir, 'summary.json'), read_json(two_process[0],
                                                                         'summary.json')
  for key in ('optimal_depth', 'test_accuracy', 'val_accuracy', 'epochs_total', 'per_depth'):
    assert resumed[key] == uninterrupted[key], key


def test_data_missing_on_one_host_stops_both_at_once_with_one_line(tmp_path):
  # The shipped digits as an npz file that process 0 finds and process 1 does not.
  from odn_jax.data import sources  # pylint: disable=g-import-not-at-top
  with np.load(sources.DIGITS_FILE) as f:
    splits = {k: f[k] for k in f.files}
  data = tmp_path / 'digits.npz'
  np.savez(data, x_train=splits['x_train'], y_train=splits['y_train'],
           x_val=splits['x_validation'], y_val=splits['y_validation'],
           x_test=splits['x_test'], y_test=splits['y_test'])
  npz = ['--config.data.source=npz', '--config.data.num_train=0', '--config.data.num_val=0']
  missing = tmp_path / 'elsewhere' / 'digits.npz'
  results = finish(start_job(tmp_path / 'run', [*npz, f'--config.data.path={data}'],
                             [*npz, f'--config.data.path={missing}']), timeout=120)
  for status, _, err, seconds in results:
    last = err.strip().splitlines()[-1]
    assert status == 2, err[-2000:]
    assert last.startswith('error: npz file') and str(missing) in last, last
    assert 'Traceback' not in err
    # Well inside JAX's heartbeat (10 s here) and barrier timeouts: no host waited for
    # the other.
    assert seconds < 30, seconds
  assert abs(results[0][3] - results[1][3]) < 5


def test_hosts_started_with_different_configs_stop_at_once_naming_the_key(tmp_path):
  results = finish(start_job(tmp_path / 'run', overrides1=['--config.model.width=8']),
                   timeout=120)
  for status, _, err, seconds in results:
    last = err.strip().splitlines()[-1]
    assert status == 2, err[-2000:]
    assert 'another config than host 0 (differs in model.width)' in last, last
    assert 'Traceback' not in err
    assert seconds < 30, seconds
  assert results[0][2].strip().endswith('(on host 1)')  # host 0 says whose config differs
  assert not Path(tmp_path, 'run').exists()  # stopped before anything was written


def test_error_on_one_host_mid_run_stops_the_other_within_the_heartbeat(tmp_path):
  # Process 1 fails alone after setup (no agreement possible) while process 0 waits for
  # it in a collective: 1 leaves at once, 0 is stopped when its heartbeat lapses.
  script = tmp_path / 'job.py'
  script.write_text(textwrap.dedent('''
      import numpy as np
      import jax
      from jax.experimental import multihost_utils
      from odn_jax.cli.main import run_main
      from odn_jax.data.errors import DataError
      from odn_jax.run import parallel

      def main(argv):
        parallel.initialize(True)
        for step in range(10_000):
          if step == 3 and jax.process_index() == 1:
            raise DataError('batch 3 cannot be read on this host')
          multihost_utils.process_allgather(np.zeros(1))

      run_main(main)
  '''))
  job, processes = free_job_id(), []
  for i in (0, 1):
    env = {**base_env(), 'SLURM_JOB_ID': str(job), 'SLURM_NTASKS': '2', 'SLURM_PROCID': str(i),
           'SLURM_LOCALID': str(i), 'SLURM_STEP_NODELIST': 'localhost'}
    processes.append(subprocess.Popen([sys.executable, str(script)], cwd=ROOT, env=env,
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
  results = finish(processes, timeout=120)
  status, _, err, _ = results[1]
  assert status == 2 and err.strip().splitlines()[-1] == (
      'error: batch 3 cannot be read on this host'), err[-2000:]
  assert results[0][0] != 0
  assert results[0][3] < parallel_heartbeat_s() + 20, results[0][3]


def parallel_heartbeat_s() -> int:
  from odn_jax.run import parallel  # pylint: disable=g-import-not-at-top
  return parallel.HEARTBEAT_TIMEOUT_S
