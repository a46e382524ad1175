"""The JSON files a run writes, as typed records: one schema and one to/from JSON each.

  history.json        [EpochRecord.to_json(), ...]  one per epoch so far
  summary.json        Summary                       what the run found
  optimal/model.json  ModelInfo                     how to rebuild and feed the subnet
  FILE.json           ModelInfo                     beside an exported model (deploy.export)

Every file (every record of history.json, which stays a list) carries `format_version`. A
file written before there was one is version 0 and is read through `upgrade`: the one
place that knows what older files lack. `odn_jax.run.record_files` reads and writes them.

A history stays a list of plain records (`EpochRecord.to_json()`): the controller folds
them and the checkpoints save them as they are; `epochs(history)` is their typed view.
"""

import dataclasses
import json
from typing import Sequence

from odn_jax.run import workdir as workdir_lib

FORMAT_VERSION = 1
VERSION_KEY = 'format_version'

# Config keys added since version 0 (main at efca7f6), at the value every run before them
# had: an older run's config.json reads with them, so its workdir resumes. A key added to
# the config later goes here too.
CONFIG_ADDED = {'search.parallel_depths': 1, 'search.race_lookahead': None}


def upgrade(kind: str, value: dict, workdir=None) -> dict:
  """`value`, one record of a file of `kind` ('summary', 'epoch', 'model_info', 'config'),
  at FORMAT_VERSION: the one conversion of older files. A record without `format_version` is
  version 0; what it lacks is filled in as the run had it, from its `workdir` where given
  (config.json, optimal/model.json), else as the defaults were then."""
  if not isinstance(value, dict):
    raise ValueError(f'a JSON object was expected, not {type(value).__name__}')
  version = value.get(VERSION_KEY, 0)
  if version > FORMAT_VERSION:
    raise ValueError(f'format_version {version} was written by a newer odn_jax (this one '
                     f'reads up to {FORMAT_VERSION}); upgrade odn_jax')
  if kind == 'config':  # config.json carries no version: the keys it lacks say it
    value = json.loads(json.dumps(value))
    for dotted, default in CONFIG_ADDED.items():
      *sections, key = dotted.split('.')
      section = value
      for name in sections:
        section = section.setdefault(name, {})
      section.setdefault(key, default)
    return value
  if version == FORMAT_VERSION:
    return value
  value, config = dict(value), _config(workdir)
  get = lambda section, key, default: (config.get(section) or {}).get(key, default)
  if kind == 'summary':
    # Fields added to summary.json over time: a run without them ran as they say now.
    for key, default in (('schedule', config.get('schedule', 'paper')),
                         ('search_mode', get('search', 'mode', 'target')),
                         ('search_start', get('search', 'start', 'shallowest')),
                         ('grow_init', get('grow', 'init', 'warmup')),
                         ('width', get('model', 'width', None)),
                         ('warmup_epochs', 0), ('warmup_profile', []), ('compile', []),
                         ('num_processes', 1), ('warnings', [])):
      value.setdefault(key, default)
    value['per_depth'] = [{**row, 'left_because': row.get('left_because', '')}
                          for row in value.get('per_depth', [])]
    info = None if workdir is None else workdir_lib.model_info_path(workdir)
    if 'input_shape' not in value and info is not None and info.is_file():  # model.json had it
      value['input_shape'] = workdir_lib.read_json(info)['input_shape']
  elif kind == 'model_info':
    # Before the compute dtype was recorded the run's config said it; before early exits
    # were trained on the final trunk there were none to report.
    value.setdefault('dtype', 'bfloat16' if config.get('half_precision') else 'float32')
    value.setdefault('class_names', None)
    value.setdefault('early_exit_epochs', 0)
  return {**value, VERSION_KEY: FORMAT_VERSION}


def _config(workdir) -> dict:
  """The run's config.json as JSON; {} without a workdir or a readable config.json."""
  if workdir is None:
    return {}
  source = workdir_lib.file(workdir, workdir_lib.CONFIG)
  try:
    return workdir_lib.read_json(source) if source.is_file() else {}
  except ValueError:
    return {}


def _fields(cls, value: dict, skip: Sequence[str] = ()) -> dict:
  """The fields of `cls` in `value`, checked: none unknown, none required missing."""
  fields = [f for f in dataclasses.fields(cls) if f.name not in skip]
  names = {f.name for f in fields}
  unknown = set(value) - names - {VERSION_KEY}
  if unknown:
    raise ValueError(f'unknown fields {sorted(unknown)}')
  missing = [f.name for f in fields if f.name not in value
             and f.default is dataclasses.MISSING]
  if missing:
    raise ValueError(f'fields {missing} missing')
  return {k: v for k, v in value.items() if k in names}


def _json(record, optional: Sequence[str] = ()) -> dict:
  """A record's fields in their order, leaving out the optional ones it does not have."""
  out = {f.name: getattr(record, f.name) for f in dataclasses.fields(record)}
  return {**{k: v for k, v in out.items() if not (k in optional and v is None)},
          VERSION_KEY: FORMAT_VERSION}


# --------------------------------------------------------------------------- the records

@dataclasses.dataclass(frozen=True, kw_only=True)
class EpochRecord:
  """One epoch: where the search stood, what it measured, how long it took."""
  epoch: int | None  # 1-based; None: a raced depth-epoch outside the sequential search's order
  phase: str
  depth: int
  learning_rate: float
  # The epoch's scalars (loss, val_accuracy, ...): history.json, TensorBoard and report.md
  # take them all from here, so a new one is one entry where run_epoch computes them.
  metrics: dict[str, float]
  val_correct: int | None = None  # the counts behind val_accuracy (older runs: none)
  val_count: int | None = None
  val_accuracy_per_head: list[float]
  steps: int | None = None  # trained in `seconds` (fewer in an epoch resumed midway)
  seconds: float | None = None
  compile_s: float | None = None
  # A raced search (search.parallel_depths > 1; odn_jax.search.race): the slot that trained
  # the epoch, the round (from 1 after warm-up) it ran in, and True for a depth deeper than
  # the answer, which the sequential search does not train.
  slot: int | None = None
  round: int | None = None
  speculative: bool | None = None

  OPTIONAL = ('val_correct', 'val_count', 'steps', 'seconds', 'compile_s', 'slot', 'round',
              'speculative')

  @property
  def loss(self) -> float:
    return self.metrics['loss']

  @property
  def val_accuracy(self) -> float:
    return self.metrics['val_accuracy']

  def scalars(self) -> dict[str, float]:
    """What TensorBoard plots at this epoch: every metric, the rate and depth, each head's
    accuracy where several were validated, and the steps per second."""
    out = {**self.metrics, 'learning_rate': self.learning_rate, 'depth': self.depth}
    if len(self.val_accuracy_per_head) > 1:  # the warm-up evaluates every head
      out.update({f'val_accuracy_head_{d:02d}': a
                  for d, a in enumerate(self.val_accuracy_per_head, 1)})
    if self.steps and self.seconds:  # the epoch's wall clock, validation in
      out['steps_per_s'] = self.steps / self.seconds
    return out

  def to_json(self) -> dict:
    """The history.json record: the metrics sit flat beside the other fields."""
    out = _json(self, self.OPTIONAL)
    metrics = out.pop('metrics')
    head = {k: out.pop(k) for k in ('epoch', 'phase', 'depth', 'learning_rate')}
    return {**head, **metrics, **out}

  @classmethod
  def from_json(cls, value: dict) -> 'EpochRecord':
    """A history.json record; every field it has beyond the named ones is a metric."""
    value = upgrade('epoch', value)
    names = {f.name for f in dataclasses.fields(cls)} - {'metrics'}
    metrics = {k: v for k, v in value.items() if k not in names and k != VERSION_KEY}
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool)
               for v in metrics.values()):
      raise ValueError(f'metrics {sorted(metrics)} are not all numbers')
    if not {'loss', 'val_accuracy'} <= set(metrics):
      raise ValueError('fields loss and val_accuracy missing')
    return cls(metrics=metrics, **_fields(cls, {k: value[k] for k in names if k in value},
                                          skip=('metrics',)))


@dataclasses.dataclass(frozen=True, kw_only=True)
class ModelInfo:
  """How to rebuild the extracted subnet and feed it (optimal/model.json)."""
  arch: str
  width: int
  num_classes: int
  dtype: str  # the compute dtype the run trained and measured in
  input_shape: list[int]  # [H, W, C]
  mean: list[float]  # the run's normalisation, per channel (odn_jax.pixels.normalize)
  std: list[float]
  dataset: str
  class_names: list[str] | None  # None where the dataset has no names
  early_exit_epochs: int  # heads 1..depth-1 trained that long on the final trunk (0: none)
  depth: int

  def __post_init__(self):
    for key in ('input_shape', 'mean', 'std'):  # tuples of a config: JSON's lists
      object.__setattr__(self, key, list(getattr(self, key)))
    if self.class_names is not None:
      if len(self.class_names) != self.num_classes:
        raise ValueError(f'{len(self.class_names)} class_names for {self.num_classes} classes')
      object.__setattr__(self, 'class_names', [str(n) for n in self.class_names])

  @property
  def labels(self) -> list[str]:
    """The class names, or the class indices as text where the dataset has none."""
    return self.class_names or [str(i) for i in range(self.num_classes)]

  def to_json(self) -> dict:
    return _json(self)

  @classmethod
  def from_json(cls, value: dict, workdir=None) -> 'ModelInfo':
    """`workdir`: the run's, where a version-0 file lacks what its config.json says."""
    return cls(**_fields(cls, upgrade('model_info', value, workdir)))


@dataclasses.dataclass(frozen=True, kw_only=True)
class Summary:
  """What a finished run found (summary.json); its rows stay JSON objects."""
  dataset: str
  arch: str
  width: int | None  # None: a version-0 summary of a run whose config did not say
  max_depth: int
  input_shape: list[int]
  optimal_depth: int
  target_accuracy: float
  tolerance: float
  val_accuracy: float
  test_accuracy: float
  params_optimal: int
  params_full: int
  memory_reduction_pct: float
  flops_optimal: float
  flops_full: float
  per_depth: list[dict]  # depth, epochs, best_epoch, best_val_accuracy, left_because, sizes
  warmup_epochs: int
  epochs_total: int
  schedule: str
  search_mode: str
  search_start: str
  warmup_profile: list[float]
  stop_reason: str
  grow_init: str
  wall_clock_s: float
  compile: list[dict]  # per phase and depth: epochs_s, compile_s, compile_pct
  num_devices: int
  num_processes: int
  seed: int
  warnings: list[str]
  throughput: dict | None = None  # the subnet's and full network's images/s, if measured
  early_exit: list[dict] | None = None  # the threshold sweep, with early exits trained
  early_exit_epochs: int | None = None
  # What the search cost (odn_jax.results.cost; absent from older summaries): the slots it
  # raced depths on (1: sequential), the rounds of epochs from the end of warm-up to the end
  # of the search, and the training FLOPs of every epoch trained, speculative ones included.
  parallel_depths: int | None = None
  critical_path_epochs: int | None = None
  training_flops: float | None = None
  # A raced search: epochs of depths deeper than the answer, and the race's schedule
  # (odn_jax.search.race.Race.summary: slots, lookahead, rounds, answer, runs).
  speculative_epochs: int | None = None
  race: dict | None = None

  OPTIONAL = ('throughput', 'early_exit', 'early_exit_epochs', 'parallel_depths',
              'critical_path_epochs', 'training_flops', 'speculative_epochs', 'race')

  def to_json(self) -> dict:
    return _json(self, self.OPTIONAL)

  @classmethod
  def from_json(cls, value: dict, workdir=None) -> 'Summary':
    """`workdir`: the run's, where a version-0 file lacks what its other files say."""
    return cls(**_fields(cls, upgrade('summary', value, workdir)))


def epochs(history: Sequence[dict]) -> list[EpochRecord]:
  """The typed view of a history: of the plain records the controller folds."""
  return [EpochRecord.from_json(r) for r in history]


def checked(history: Sequence[dict]) -> list[dict]:
  """A history's plain records at FORMAT_VERSION (older ones upgraded), each checked
  against EpochRecord: what history.json and the checkpoints hold."""
  return [r.to_json() for r in epochs(history)]
