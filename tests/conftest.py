"""Fixtures shared across test files, and the `slow` mark of the end-to-end tests.

What keeps the suite fast as it grows (CI: 2 cores, well under 20 minutes):
- One JAX persistent compilation cache for the session, in a temporary folder, shared by
  every process the tests start (it is set in the environment they inherit): compiling, not
  training, is most of a tiny run's time, and most runs compile programs an earlier test
  compiled. A CLI run shares it with `--config.compilation_cache_dir=` (see CACHE_FLAG).
- One tiny finished run (`tiny_run`) for the tests that only read a workdir (report,
  evaluation, export, prediction, compare); `tiny_run_copy` for a test that writes into it.
- One real quickstart search (`quickstart_run`) only for what is a property of the quickstart
  itself (it finds a shallow, accurate subnet; the notebook runs on it).
"""

import os
import shutil
import sys
import tempfile

import pytest

# Set before JAX is imported here or in any process a test starts. Every program is kept
# (JAX's default keeps only those that took a second to compile; here most take less).
if 'ODN_TEST_JAX_CACHE' not in os.environ:  # not again in a process a test started
  os.environ['ODN_TEST_JAX_CACHE'] = tempfile.mkdtemp(prefix='odn_jax_test_jax_cache_')
  _OWN_CACHE = True
else:
  _OWN_CACHE = False
os.environ['JAX_COMPILATION_CACHE_DIR'] = os.environ['ODN_TEST_JAX_CACHE']
os.environ['JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS'] = '0'
if 'jax' in sys.modules:  # imported already (by a pytest plugin): its flags were read
  sys.modules['jax'].config.update('jax_compilation_cache_dir', os.environ['ODN_TEST_JAX_CACHE'])
  sys.modules['jax'].config.update('jax_persistent_cache_min_compile_time_secs', 0.0)

# The `--config.KEY=VALUE` of a CLI run that keeps JAX's setting above (the config's default
# would take the user's own cache, and the session's programs would not be shared).
CACHE_FLAG = '--config.compilation_cache_dir='


def pytest_unconfigure(config):  # pylint: disable=unused-argument
  if _OWN_CACHE:
    shutil.rmtree(os.environ['ODN_TEST_JAX_CACHE'], ignore_errors=True)


def quickstart_config():
  from configs import quickstart  # pylint: disable=g-import-not-at-top
  config = quickstart.get_config()
  config.compilation_cache_dir = ''  # the session's cache, set above
  return config


def smoke_config():
  """The quickstart's method at its smallest: one epoch per phase, depths 1 and 2."""
  config = quickstart_config()
  config.model.width = 4
  config.model.max_depth = 2
  config.data.train_subset = 256
  config.precise_bn_batches = 2
  config.warmup.epochs = 1
  config.search.max_epochs_per_depth = 1
  config.measure_throughput = False  # seconds of timing: tests/test_speed.py checks it
  return config


def tiny_config():
  """A finished run with every file a reader reads, in as few epochs as it takes: the
  warm-up of the full network (8 depths), depths 1 and 2 grown two epochs each, the search
  ended there by the epoch cap (optimal depth 2 of 8), the early exit retrained one epoch,
  the inference speed measured. Small batches so that 5 epochs learn (about 50% on the
  test digits): its predictions depend on the images, so a reader that gets them wrong
  (normalisation, weights, head) reads other numbers than the run measured."""
  config = quickstart_config()
  config.model.width = 4
  config.batch_size = 16
  config.precise_bn_batches = 2
  config.warmup.epochs = 1
  config.search.target = 100.0  # out of reach: the cap, not the target, ends the search
  config.search.max_epochs_per_depth = 2
  config.search.max_epochs_total = 5
  config.early_exit_epochs = 1
  return config


@pytest.fixture(scope='session')
def tiny_run(tmp_path_factory):
  """One tiny finished run per test session: (config, workdir, summary). Read it only;
  a test that writes into a workdir takes `tiny_run_copy`."""
  from odn_jax.train import loop as trainer  # pylint: disable=g-import-not-at-top
  config = tiny_config()
  workdir = str(tmp_path_factory.mktemp('tiny') / 'run')
  summary = trainer.train_and_evaluate(config, workdir, quiet=True)
  assert (summary['optimal_depth'], summary['max_depth']) == (2, 8), summary['stop_reason']
  return config, workdir, summary


@pytest.fixture
def tiny_run_copy(tiny_run, tmp_path):
  """The tiny run copied for one test, which may write into it: (config, workdir, summary)."""
  config, workdir, summary = tiny_run
  copy = str(tmp_path / 'run')
  shutil.copytree(workdir, copy)
  return config, copy, summary


@pytest.fixture(scope='session')
def quickstart_run(tmp_path_factory):
  """One real quickstart search per test session: (config, workdir, summary)."""
  from odn_jax.train import loop as trainer  # pylint: disable=g-import-not-at-top
  config = quickstart_config()
  workdir = str(tmp_path_factory.mktemp('quickstart'))
  summary = trainer.train_and_evaluate(config, workdir, quiet=True)
  return config, workdir, summary


def pytest_collection_modifyitems(items):
  # Whatever reads the quickstart run waits for a whole search: `-m "not slow"` skips it.
  for item in items:
    if 'quickstart_run' in getattr(item, 'fixturenames', ()):
      item.add_marker(pytest.mark.slow)
