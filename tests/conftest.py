"""Fixtures shared across test files."""

import pytest

from odn_jax import trainer


def quickstart_config():
  from configs import quickstart  # pylint: disable=g-import-not-at-top
  return quickstart.get_config()


@pytest.fixture(scope='session')
def quickstart_run(tmp_path_factory):
  """One real quickstart search per test session: (config, workdir, summary)."""
  config = quickstart_config()
  workdir = str(tmp_path_factory.mktemp('quickstart'))
  summary = trainer.train_and_evaluate(config, workdir, quiet=True)
  return config, workdir, summary
