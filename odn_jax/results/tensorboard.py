"""TensorBoard event files under DIR/tensorboard: per-epoch scalars and the run's config."""

import io
import json
import os
import socket
import time

from absl import logging
import jax

from odn_jax.run import records, workdir as workdir_lib


class EventFile:
  """A growing events file: appended to where local (TensorBoard follows the open file);
  elsewhere (gs://...), where objects cannot be appended to, rewritten whole at each flush
  (TensorBoard reads such files again; an epoch's records are a few hundred bytes)."""

  def __init__(self, target):
    self._target = target
    self._remote = workdir_lib.is_remote(target)
    self._buffer = io.BytesIO()
    self._local = None if self._remote else target.open('ab')

  def write(self, blob: bytes):
    (self._buffer if self._remote else self._local).write(blob)

  def flush(self):
    if self._remote:
      self._target.write_bytes(self._buffer.getvalue())
    else:
      self._local.flush()

  def close(self):
    self.flush()
    if self._local is not None:
      self._local.close()


def hparam_value(value):
  """A config value as TensorBoard's hparams take it: bool, number or text."""
  if isinstance(value, (bool, int, float, str)):
    return value
  return str(list(value) if isinstance(value, tuple) else value)


class MetricWriter:
  """Per-epoch scalars, steps/s, and the run's config (as text and as TensorBoard's
  hyperparameters) as TensorBoard event files under DIR/tensorboard.

  The records are written straight to the file with TensorBoard's own record format
  and protos: clu's SummaryWriter, and TensorBoard's `summary.Writer` too, go through
  TensorFlow's file API and so import TensorFlow into every training run (4 s and 540 MB
  of memory on the development machines, against 0.1 s here) for the same few bytes. Only
  process 0 writes; without the `tensorboard` package the run goes on and says once that it
  writes no event files.

  Why not tensorboardX (2.6.5, which writes scalars, text and hparams without TensorFlow):
  its gs:// files go through google-cloud-storage's own client, not etils.epath, so a bucket
  workdir would need a second storage dependency and its credentials, and its events would
  bypass the one way a run writes files (tests/test_remote_workdir.py serves gs:// to epath
  alone; tensorboardX's hook to swap that writer, record_writer.register_writer_factory, is
  not public API). Its add_hparams also writes into a sub-run of its own (TensorBoard then
  lists each run twice), and its writer thread flushes every 120 s, where a preempted run
  here keeps every finished epoch. What it would save is about 60 lines here, over protos
  the tensorboard package (needed for `tensorboard --logdir` anyway) already ships.
  """

  def __init__(self, workdir: str, config: dict | None = None):
    """`config`: the run's config as a JSON dict (`json.loads(config.to_json())`)."""
    self._file = None
    if jax.process_index() > 0:
      return
    try:  # pylint: disable=g-import-not-at-top
      from tensorboard.compat.proto import event_pb2, summary_pb2
      from tensorboard.summary.writer.record_writer import RecordWriter
    except ImportError:
      logging.warning('the tensorboard package is not installed: no TensorBoard event files '
                      '(pip install tensorboard)')
      return
    self._event, self._summary = event_pb2.Event, summary_pb2.Summary
    self._workdir = workdir
    folder = workdir_lib.file(workdir, workdir_lib.TENSORBOARD)
    folder.mkdir(parents=True, exist_ok=True)
    # TensorBoard reads every file whose name contains 'tfevents'; a resumed run adds one.
    name = f'events.out.tfevents.{int(time.time()):010d}.{socket.gethostname()}.{os.getpid()}'
    self._file = EventFile(folder / name)
    self._records = RecordWriter(self._file)
    self._write(self._event(wall_time=time.time(), file_version='brain.Event:2'))
    if config is not None:
      self.write_config(config)

  def _write(self, event):
    self._records.write(event.SerializeToString())

  def write_scalars(self, step: int, scalars: dict):
    """As clu's MetricWriter.write_scalars; flushed at once."""
    if self._file is None:
      return
    values = [self._summary.Value(tag=tag, simple_value=float(value))
              for tag, value in scalars.items()]
    self._write(self._event(wall_time=time.time(), step=int(step),
                            summary=self._summary(value=values)))
    self._file.flush()

  def write_config(self, config: dict):
    """The flattened config: a text summary 'config' (one table row per dotted key), and
    TensorBoard's hparams (HPARAMS tab) with the validation accuracy as their metric."""
    if self._file is None:
      return
    from tensorboard.compat.proto import tensor_pb2, tensor_shape_pb2, types_pb2  # pylint: disable=g-import-not-at-top
    from tensorboard.plugins.hparams import summary_v2 as hparams  # pylint: disable=g-import-not-at-top
    from tensorboard.plugins.text import metadata as text_metadata  # pylint: disable=g-import-not-at-top
    flat = workdir_lib.flatten(config)
    table = '\n'.join(['| key | value |', '|---|---|']
                      + [f'| {k} | `{json.dumps(v)}` |' for k, v in sorted(flat.items())])
    text = tensor_pb2.TensorProto(dtype=types_pb2.DT_STRING, string_val=[table.encode()],
                                  tensor_shape=tensor_shape_pb2.TensorShapeProto())
    summaries = [
        self._summary(value=[self._summary.Value(
            tag='config', tensor=text,
            metadata=text_metadata.create_summary_metadata('config', 'the run\'s config'))]),
        hparams.hparams_config_pb(
            [hparams.HParam(k) for k in sorted(flat)],
            [hparams.Metric('val_accuracy', display_name='validation accuracy (%)')]),
        hparams.hparams_pb({k: hparam_value(v) for k, v in flat.items()},
                           trial_id=workdir_lib.path(self._workdir).name)]
    for summary_proto in summaries:
      self._write(self._event(wall_time=time.time(), step=0, summary=summary_proto))
    self._file.flush()

  def write_epoch(self, record: dict):
    """One history record (plain, as the controller folds it), at step = its epoch number:
    its scalars, `EpochRecord.scalars()`."""
    epoch = records.EpochRecord.from_json(record)
    self.write_scalars(epoch.epoch, epoch.scalars())

  def close(self):
    if self._file is not None:
      self._file.close()
      self._file = None
