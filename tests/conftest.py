"""Fixtures shared across test files, and the `slow` mark of the end-to-end tests."""

import pytest

from odn_jax.train import loop as trainer


def quickstart_config():
  from configs import quickstart  # pylint: disable=g-import-not-at-top
  return quickstart.get_config()


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


@pytest.fixture(scope='session')
def quickstart_run(tmp_path_factory):
  """One real quickstart search per test session: (config, workdir, summary)."""
  config = quickstart_config()
  workdir = str(tmp_path_factory.mktemp('quickstart'))
  summary = trainer.train_and_evaluate(config, workdir, quiet=True)
  return config, workdir, summary


def pytest_collection_modifyitems(items):
  # Whatever reads the quickstart run waits for a whole search: `-m "not slow"` skips it.
  for item in items:
    if 'quickstart_run' in getattr(item, 'fixturenames', ()):
      item.add_marker(pytest.mark.slow)
