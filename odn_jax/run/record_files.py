"""The one reader and the one writer of each JSON file a run writes (`odn_jax.run.records`
holds their schemas); `odn_jax.run.workdir` says where each lives.

A file that exists but cannot be read (empty, cut short, not what it should hold) is a
`RunFileError`: one line naming the file and how to fix it.
"""

import json
from typing import Sequence

from odn_jax.errors import NotFoundError, UserError
from odn_jax.run import workdir as workdir_lib
from odn_jax.run import records
from odn_jax.run.records import ModelInfo, Summary

FIX = {  # how to repair each file, for the one line a damaged file gives
    'summary': 'delete it and rerun launch/train.py with the same flags to extract, test '
               'and report the subnet again from the last checkpoint',
    'history': 'delete it and summary.json, and rerun launch/train.py with the same flags '
               'to write both again from the checkpoints',
    'model_info': 'delete the optimal/ folder and summary.json, and rerun launch/train.py '
                  'with the same flags to extract the subnet again',
    'export_info': 'delete it (the model file runs without it) or write both again with '
                   'launch/export.py',
}


RunFileError = workdir_lib.RunFileError  # a file of a run that exists but cannot be read


def read(source, kind: str, parse):
  """`parse(the JSON of file source)`; a RunFileError (one line, with the fix of FIX[kind])
  if it is empty, cut short, or not what a file of its kind holds."""
  try:
    return parse(workdir_lib.read_json(source))
  except RunFileError as e:  # not JSON at all (empty, cut short): the fix of its kind
    raise RunFileError(f'{source} cannot be read ({e.reason}); {FIX[kind]}') from None
  except UserError:
    raise
  except (ValueError, TypeError, KeyError) as e:  # JSON, version or fields
    reason = e.msg if isinstance(e, json.JSONDecodeError) else str(e).strip("'")
    raise RunFileError(f'{source} cannot be read ({reason or "empty"}); {FIX[kind]}') from e


def load_summary(workdir) -> Summary:
  source = workdir_lib.file(workdir, workdir_lib.SUMMARY)
  if not source.is_file():
    raise NotFoundError(f'{source} does not exist: the run in {workdir} has not finished (its '
                        f'{workdir_lib.HISTORY} has every epoch so far; rerun launch/train.py '
                        'to finish it)')
  return read(source, 'summary', lambda value: Summary.from_json(value, workdir))


def load_summary_fields(workdir) -> dict:
  """summary.json's fields, upgraded to FORMAT_VERSION but not checked against Summary:
  for a table of whatever several summaries hold (odn_jax.results.compare)."""
  return read(workdir_lib.file(workdir, workdir_lib.SUMMARY), 'summary',
              lambda value: records.upgrade('summary', value, workdir))


def load_summary_as_written(workdir) -> dict | None:
  """summary.json as its run wrote it (the summary `train_and_evaluate` returns again for
  a finished run), None before the run has finished."""
  source = workdir_lib.file(workdir, workdir_lib.SUMMARY)
  return read(source, 'summary', lambda value: value) if source.is_file() else None


def load_history(workdir) -> list[dict]:
  """Every epoch so far ([] before the first), as plain records (`records.checked`)."""
  source = workdir_lib.file(workdir, workdir_lib.HISTORY)
  if not source.is_file():
    return []

  def parse(value):
    if not isinstance(value, list):
      raise ValueError('a JSON list of epochs was expected')
    return records.checked(value)
  return read(source, 'history', parse)


def load_model_info(workdir) -> ModelInfo:
  """optimal/model.json of the run in `workdir`."""
  source = workdir_lib.model_info_path(workdir)
  if not source.is_file():
    raise NotFoundError(f'{source} does not exist: the run in {workdir} has not finished '
                        '(rerun launch/train.py with the same flags to complete it)')
  return read(source, 'model_info', lambda value: ModelInfo.from_json(value, workdir))


def load_export_info(source) -> ModelInfo | None:
  """FILE.json beside an exported model, or None (a model file copied alone)."""
  source = workdir_lib.path(source)
  return read(source, 'export_info', ModelInfo.from_json) if source.is_file() else None


# --------------------------------------------------------------------------- writing

def write_summary(workdir, summary: Summary):
  """summary.json; its existence marks the run as finished."""
  workdir_lib.write_json(workdir_lib.file(workdir, workdir_lib.SUMMARY), summary.to_json())


def write_history(workdir, history: Sequence[dict]):
  """history.json: every epoch so far (plain records, as the controller folds them)."""
  workdir_lib.write_json(workdir_lib.file(workdir, workdir_lib.HISTORY),
                         records.checked(history))


def write_model_info(target, info: ModelInfo):
  """optimal/model.json, or FILE.json beside an export (`target`: its path)."""
  workdir_lib.write_json(target, info.to_json())
