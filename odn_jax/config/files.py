"""Experiment configs by name or by path: `quickstart`, `fashion_mnist:ARG`, `configs/mnist.py`.

The paper's configs live in the repository's top-level `configs/` folder, which an
installed odn_jax carries as the package `odn_jax.configs` (setup.cfg maps the folder,
no copy). A bare name resolves to that folder's `NAME.py`; anything that exists as a
file is used as given, so `--config=configs/mnist.py` from a clone is unchanged. As with
ml_collections' own flag, text after the first ':' is passed to `get_config`.
"""

import importlib.util
import os
import uuid

from absl import flags
from ml_collections import config_flags
from ml_collections.config_flags import config_flags as config_flags_module

from odn_jax import errors


def configs_dir() -> str | None:
  """The folder of the shipped configs: the installed `odn_jax.configs`, else the clone's."""
  try:
    spec = importlib.util.find_spec('odn_jax.configs')
  except ImportError:
    spec = None
  if spec is not None and spec.submodule_search_locations:
    return list(spec.submodule_search_locations)[0]
  clone = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'configs')
  return clone if os.path.isdir(clone) else None


def names() -> list[str]:
  """Names of the shipped configs (`quickstart`, `mnist`, ...)."""
  folder = configs_dir()
  if folder is None:
    return []
  return sorted(f[:-3] for f in os.listdir(folder)
                if f.endswith('.py') and not f.startswith('_'))


class ConfigError(errors.ConfigError):
  """A config that names no file and no shipped config."""


def resolve(spec: str) -> str:
  """`NAME[:ARG]` or `PATH[:ARG]` -> `FILE[:ARG]`; an existing file wins over a name."""
  path, sep, arg = spec.partition(':')
  if os.path.isfile(path) or not path:
    return spec
  name = path[:-3] if path.endswith('.py') and os.sep not in path else path
  if os.sep not in name and name in names():
    return os.path.join(configs_dir(), name + '.py') + sep + arg
  if os.sep in path or path.endswith('.py'):
    raise ConfigError(f'config file {path} does not exist')
  raise ConfigError(f'unknown config {path!r}: give a config file or one of the shipped '
                    f'configs ({", ".join(names()) or "none found"})')


def get_config(spec: str):
  """The ConfigDict of `NAME[:ARG]` or `PATH[:ARG]`, unlocked: set keys before training."""
  path, sep, arg = resolve(spec).partition(':')
  module_spec = importlib.util.spec_from_file_location(f'odn_config_{uuid.uuid4().hex}', path)
  module = importlib.util.module_from_spec(module_spec)
  module_spec.loader.exec_module(module)
  return module.get_config(arg) if sep else module.get_config()


class _ResolvingParser(config_flags_module.ConfigFileFlagParser):
  """ml_collections' config-file parser, with shipped names resolved first (a ConfigError
  is a ValueError: absl reports it as a bad --config value, in one line)."""

  def parse(self, path):
    try:
      return super().parse(resolve(path))
    except (TypeError, ValueError) as e:
      # ml_collections re-raises a get_config error with its traceback in the message: a
      # UserError (e.g. an unknown schedule after the colon) keeps its own one line.
      if isinstance(e.__context__, errors.UserError):
        raise ConfigError(str(e.__context__)) from None
      raise


def DEFINE_config(name: str = 'config', help_string: str = 'Experiment config: a shipped name '
                  '(quickstart, mnist, ...) or a config file; NAME:ARG passes ARG to get_config.',
                  lock_config: bool = True, flag_values: flags.FlagValues = flags.FLAGS,
                  sys_argv: list[str] | None = None):  # pylint: disable=invalid-name
  """`config_flags.DEFINE_config_file` whose value may also be a shipped config's name.

  `--config.KEY=VALUE` overrides work as with the ml_collections flag: it is that flag,
  with its parser swapped for one that resolves names first."""
  holder = config_flags.DEFINE_config_file(name, None, help_string, flag_values=flag_values,
                                           lock_config=lock_config, sys_argv=sys_argv)
  flag_values[name].parser = _ResolvingParser(name=name, lock_config=lock_config)
  return holder
