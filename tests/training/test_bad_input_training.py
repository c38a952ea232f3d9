"""Issue #15 in training and eval: bad records are skipped and counted, not a crash at a random
step; input without records is an error at start, not a silent spin; strict_records stops the run
with a DataError naming the record."""

import glob
import re

import keras
import pytest
import tensorflow as tf
from google.protobuf import text_format

from object_detection import inputs
from object_detection.builders import eval_builder
from object_detection.core.errors import DataError
from object_detection.data import record_guard
from object_detection.data import synthetic
from object_detection.eval import eval_loop
from object_detection.protos import eval_pb2, input_reader_pb2, model_pb2, train_pb2
from object_detection.training import learning_schedules as ls
from object_detection.training import testing
from object_detection.training import train_loop

MODEL = text_format.Parse(
    "center_net { num_classes: 2 image_resizer { fixed_shape_resizer { height: 64 width: 64 } } }",
    model_pb2.DetectionModel())


@pytest.fixture(autouse=True)
def _fresh_counts():
  record_guard.reset()
  yield
  record_guard.reset()


def _records(path, bad_at=(), breaker=None):
  """Six 64x64 examples of testing.synthetic_examples; those at `bad_at` broken by `breaker`."""
  serialized = []
  for i, (image, boxes, classes, masks) in enumerate(testing.synthetic_examples(6)):
    example = synthetic.make_example(image, boxes.tolist(), class_labels=classes.tolist(),
                                     masks=masks, source_id=str(i))
    if i in bad_at:
      breaker(example)
    serialized.append(example.SerializeToString())
  synthetic.write_tfrecord(path, serialized)
  return str(path)


def _drop_masks(example):  # boxes but no masks: `indices[0] = 0 is not in [0, 0)` before
  del example.features.feature["image/object/mask"]


def _reader(path, extra=""):
  return text_format.Merge(
      f"shuffle: false load_instance_masks: true mask_type: PNG_MASKS max_number_of_boxes: 2 "
      f'{extra} tf_record_input_reader {{ input_path: "{path}" }}',
      input_reader_pb2.InputReader())


def _train(model_dir, reader, num_steps=4):
  settings = train_loop.TrainSettings(num_steps=num_steps, checkpoint_every_n=100,
                                      steps_per_loop=2, log_every_n=2, summary_every_n=2,
                                      num_summary_images=0)
  lines = []

  def optimizer_fn():
    return keras.optimizers.Adam(ls.ConstantSchedule(0.01)), ls.ConstantSchedule(0.01)

  def dataset_fn(ctx, seed, start):
    return inputs.train_input(text_format.Parse("batch_size: 2", train_pb2.TrainConfig()),
                              reader, MODEL, model=testing.TinyCenterModel(), input_context=ctx,
                              seed=seed, start=start)

  step = train_loop.train(lambda: testing.TinyCenterModel(seed=3), optimizer_fn, dataset_fn,
                          str(model_dir), settings, progress=lines.append)
  return step, lines


def _summary_values(model_dir, tag):
  values = []
  for path in glob.glob(f"{model_dir}/train/events.out.tfevents.*"):
    for event in tf.compat.v1.train.summary_iterator(path):
      for value in event.summary.value:
        if value.tag == tag:
          values.append(float(tf.make_ndarray(value.tensor)))
  return values


def test_training_skips_a_record_without_masks_and_reports_it(tmp_path):
  path = _records(tmp_path / "train-00000-of-00001", bad_at=(3,), breaker=_drop_masks)
  step, lines = _train(tmp_path / "model", _reader(path))
  assert step == 4
  assert record_guard.health("train_input_reader").skipped_records >= 1
  # Each epoch meets the record again; the progress line and the summaries count every time.
  assert re.search(r"^step 4/4 loss .*, skipped \d+ bad input records \(see the log\)$", lines[-1])
  assert _summary_values(tmp_path / "model", "Input/skipped_records")[-1] >= 1
  assert set(record_guard.recent_messages()) == {
      f"train_input_reader: skipped record 3 of {path}: image/object/mask: 0 values for 1 boxes "
      "(expected 1)"}


def test_training_on_an_empty_tfrecord_is_an_error_at_start(tmp_path):
  empty = tmp_path / "train-00000-of-00001"
  empty.write_bytes(b"")
  with pytest.raises(DataError, match="train_input_reader.tf_record_input_reader.input_path: no "
                     r"records to read \(got 1 file\(s\): 1 empty"):
    _train(tmp_path / "model", _reader(str(empty)))


def test_strict_records_ends_training_with_the_record_named(tmp_path):
  path = _records(tmp_path / "train-00000-of-00001", bad_at=(1,), breaker=_drop_masks)
  with pytest.raises(DataError, match=f"train_input_reader: record 1 of {path}: "
                     r"image/object/mask: 0 values for 1 boxes \(expected 1\) "
                     r"\(input_reader.strict_records stops"):
    _train(tmp_path / "model", _reader(path, "strict_records: true"))


def _evaluate(reader):
  model = testing.TinyCenterModel(seed=3)
  dataset = inputs.eval_input(eval_pb2.EvalConfig(), reader, MODEL, model=model)
  categories = [{"id": 1, "name": "a"}, {"id": 2, "name": "b"}]
  evaluators = eval_builder.build_evaluators(eval_pb2.EvalConfig(), categories)
  return eval_loop.evaluate(model, dataset, evaluators)


def test_eval_counts_skipped_records_in_its_metrics(tmp_path):
  path = _records(tmp_path / "val-00000-of-00001", bad_at=(0, 5), breaker=_drop_masks)
  reader = _reader(path, "num_epochs: 1")
  metrics = _evaluate(reader)
  assert metrics["Input/skipped_records"] == 2.0


def test_eval_where_every_record_is_bad_says_so(tmp_path):
  path = _records(tmp_path / "val-00000-of-00001", bad_at=range(6), breaker=_drop_masks)
  with pytest.raises(DataError, match=r"evaluate: every eval record was skipped as bad \(6 "
                     "records; the log names each file and record\\)"):
    _evaluate(_reader(path, "num_epochs: 1"))
