"""Console commands of an installed odn_jax (setup.cfg's console_scripts).

Each runs a `launch/` script's `main` as `python launch/NAME.py` would: the scripts
are shipped as `odn_jax.launch` (the repository's `launch/` folder, mapped, not copied).
"""

import importlib
import sys

from absl import flags

from odn_jax.cli.main import run_main


def _run(script: str):
  module = importlib.import_module(f'odn_jax.launch.{script}')
  # absl's --help prints __main__'s docstring: the script's usage, not the wrapper's (none).
  sys.modules['__main__'].__doc__ = module.__doc__
  # --help lists the main module's flags: make the script's flags the command's.
  for flag in flags.FLAGS.get_key_flags_for_module(module.__name__):
    flags.FLAGS.register_key_flag_for_module(sys.argv[0], flag)
  run_main(module.main)


def train():
  _run('train')


def evaluate():
  _run('evaluate')


def export():
  _run('export')


def predict():
  _run('predict')


def describe():
  _run('describe')


def report():
  _run('report')


def import_data():
  _run('import_data')


def compare():
  _run('compare')


def check_data():
  _run('check_data')
