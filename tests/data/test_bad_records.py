"""Issue #15, records into training and eval: bad records and files are named, counted, skipped.

Each case writes a tiny shard set where one thing is broken and reads it through
`dataset_builder.build` (the pipeline training and eval use). Before the fix each of these ended
the run with a raw TF error at whatever step drew the record (`indices[0] = 0 is not in [0, 0)`,
`DataLossError ... truncated record`), or, for an empty file, spun forever.
"""

import logging

import numpy as np
import pytest
import tensorflow as tf
from google.protobuf import text_format

from object_detection.builders import dataset_builder
from object_detection.core.errors import DataError
from object_detection.core.fields import InputDataFields as F
from object_detection.data import record_guard
from object_detection.data import synthetic
from object_detection.protos import input_reader_pb2

H, W = 8, 10
BOXES = [[0.0, 0.0, 0.5, 0.5], [0.5, 0.5, 1.0, 1.0]]


@pytest.fixture(autouse=True)
def _fresh_counts():
  record_guard.reset()
  yield
  record_guard.reset()


def _good(source_id):
  image = np.full([H, W, 3], int(source_id) % 250, np.uint8)
  return synthetic.make_example(image, BOXES, class_labels=[1, 2],
                                masks=synthetic.box_masks(BOXES, H, W),
                                source_id=str(source_id))


def _no_masks(source_id):
  example = _good(source_id)
  del example.features.feature["image/object/mask"]
  return example


def _no_image(source_id):
  example = _good(source_id)
  del example.features.feature["image/encoded"]
  return example


def _bad_image(source_id):
  example = _good(source_id)
  example.features.feature["image/encoded"].bytes_list.value[0] = b"\x89PNG\r\n\x1a\n broken"
  return example


def _write(path, examples):
  synthetic.write_tfrecord(path, [e if isinstance(e, bytes) else e.SerializeToString()
                                  for e in examples])
  return str(path)


def _reader(pattern, extra=""):
  return text_format.Merge(
      f"shuffle: false num_epochs: 1 num_readers: 1 load_instance_masks: true "
      f'mask_type: PNG_MASKS {extra} tf_record_input_reader {{ input_path: "{pattern}" }}',
      input_reader_pb2.InputReader())


def _ids(dataset):
  return [int(d[F.source_id].numpy()) for d in dataset]


BREAKERS = {
    "boxes_without_masks": (_no_masks, "image/object/mask: 0 values for 2 boxes (expected 2)"),
    "missing_image_encoded": (_no_image, "Feature: image/encoded (data type: string) is "
                                         "required but could not be found"),
    "undecodable_image": (_bad_image, "image/encoded: "),
    "not_an_example": (lambda i: b"\x01\x02 not a proto", "not a tf.train.Example ("),
}


@pytest.mark.parametrize("case", sorted(BREAKERS))
def test_bad_record_is_skipped_named_and_counted(tmp_path, caplog, case):
  breaker, reason = BREAKERS[case]
  path = _write(tmp_path / "d-00000-of-00001", [_good(0), breaker(1), _good(2), _good(3)])
  with caplog.at_level(logging.WARNING, logger="object_detection.data.record_guard"):
    ids = _ids(dataset_builder.build(_reader(path), field_path="train_input_reader"))
  assert ids == [0, 2, 3]
  health = record_guard.health("train_input_reader")
  assert health.skipped_records == 1
  warnings = [r.getMessage() for r in caplog.records]
  assert len(warnings) == 1
  assert warnings[0].startswith(f"train_input_reader: skipped record 1 of {path}: {reason}")


def test_last_records_of_a_finite_input_are_reported_too(tmp_path, caplog):
  path = _write(tmp_path / "d-00000-of-00001", [_good(0), _no_masks(1), _no_image(2)])
  with caplog.at_level(logging.WARNING, logger="object_detection.data.record_guard"):
    assert _ids(dataset_builder.build(_reader(path), field_path="eval_input_reader")) == [0]
  assert record_guard.health("eval_input_reader").skipped_records == 2
  assert [r.getMessage().split(":")[1] for r in caplog.records] == [
      f" skipped record 1 of {path}", f" skipped record 2 of {path}"]


def test_strict_records_stops_with_the_file_and_record(tmp_path):
  path = _write(tmp_path / "d-00000-of-00001", [_good(0), _no_masks(1), _good(2)])
  dataset = dataset_builder.build(_reader(path, "strict_records: true"),
                                  field_path="train_input_reader")
  with pytest.raises(tf.errors.OpError) as info:
    _ids(dataset)
  with pytest.raises(DataError) as raised:
    record_guard.raise_pending(info.value)
  assert str(raised.value) == (
      f"train_input_reader: record 1 of {path}: image/object/mask: 0 values for 2 boxes "
      "(expected 2) (input_reader.strict_records stops at the first bad record; set it false "
      "to skip and count bad records)")


def test_mostly_bad_input_stops_instead_of_skipping_forever(tmp_path, monkeypatch):
  monkeypatch.setattr(record_guard, "MIN_FAILURES_FOR_FATAL", 5)
  path = _write(tmp_path / "d-00000-of-00001", [_good(0), _no_masks(1), _no_masks(2)])
  reader = _reader(path)
  reader.num_epochs = 0  # forever, as training reads
  with pytest.raises(tf.errors.OpError) as info:
    for _ in dataset_builder.build(reader, field_path="train_input_reader"):
      pass
  with pytest.raises(DataError, match=r"train_input_reader: 5 of the first \d+ records failed "
                     r"\(last: record \d of .*\); the input reader settings \(mask_type, "
                     r"load_instance_masks, label_map_path\) probably do not match these files"):
    record_guard.raise_pending(info.value)


def test_truncated_file_keeps_its_good_records_and_names_where_it_stops(tmp_path, caplog):
  path = _write(tmp_path / "d-00000-of-00002", [_good(0), _good(1), _good(2)])
  other = _write(tmp_path / "d-00001-of-00002", [_good(10)])
  data = open(path, "rb").read()
  with open(path, "wb") as f:
    f.write(data[:-40])  # cuts the third record
  with caplog.at_level(logging.WARNING, logger="object_detection.data.record_guard"):
    ids = _ids(dataset_builder.build(_reader(str(tmp_path / "d-?????-of-00002")),
                                     field_path="train_input_reader"))
  assert ids == [0, 1, 10]
  assert record_guard.health("train_input_reader").unreadable_files == 1
  (message,) = [r.getMessage() for r in caplog.records]
  assert message.startswith(f"train_input_reader: {path}: unreadable from record 2 on (byte ")
  assert message.endswith(f"of {len(data) - 40}): truncated or corrupt; the rest of the file "
                          "is skipped")
  del other


def test_strict_records_stops_at_a_truncated_file(tmp_path):
  path = _write(tmp_path / "d-00000-of-00001", [_good(0), _good(1), _good(2)])
  data = open(path, "rb").read()
  with open(path, "wb") as f:
    f.write(data[:-40])
  dataset = dataset_builder.build(_reader(path, "strict_records: true"),
                                  field_path="train_input_reader")
  with pytest.raises(tf.errors.OpError) as info:
    _ids(dataset)
  with pytest.raises(DataError, match=f"train_input_reader: {path}: unreadable from record 2 on "
                     r".*\(input_reader.strict_records stops at the first bad file\)"):
    record_guard.raise_pending(info.value)


def test_not_a_tfrecord_file_is_left_out_at_start(tmp_path, caplog):
  good = _write(tmp_path / "a.tfrecord", [_good(0)])
  junk = tmp_path / "b.tfrecord"
  junk.write_bytes(b"\xff\xd8\xff\xe0 a jpeg, not records" * 4)
  with caplog.at_level(logging.WARNING, logger="object_detection.data.record_guard"):
    ids = _ids(dataset_builder.build(_reader(str(tmp_path / "*.tfrecord")),
                                     field_path="train_input_reader"))
  assert ids == [0]
  (message,) = [r.getMessage() for r in caplog.records]
  assert message.startswith(f"train_input_reader: {junk}: not a TFRecord file (the first "
                            "record's length checksum does not match")
  with pytest.raises(DataError) as info:
    dataset_builder.build(_reader(str(tmp_path / "*.tfrecord"), "strict_records: true"),
                          field_path="train_input_reader")
  assert str(info.value).startswith(
      f"train_input_reader.tf_record_input_reader.input_path: {junk}: not a TFRecord file (")
  assert str(info.value).endswith("(input_reader.strict_records stops at the first bad file)")
  del good


@pytest.mark.parametrize("num_epochs", [0, 1])
def test_input_without_records_is_an_error_at_start_not_a_hang(tmp_path, num_epochs):
  (tmp_path / "empty-00000-of-00001").write_bytes(b"")
  (tmp_path / "junk-00000-of-00001").write_bytes(b"not a record file at all")
  for pattern, detail in (("empty-*", "1 empty, 0 not TFRecord files"),
                          ("*-00000-of-00001", "1 empty, 1 not TFRecord files: ")):
    reader = _reader(str(tmp_path / pattern), f"num_epochs: {num_epochs}")
    with pytest.raises(DataError, match="train_input_reader.tf_record_input_reader.input_path: "
                       f"no records to read \\(got . file\\(s\\): {detail}"):
      dataset_builder.build(reader, field_path="train_input_reader")


def test_temporary_files_and_manifests_matched_by_a_broad_glob_are_not_read(tmp_path):
  from object_detection.dataset_tools import shard_manifest
  path = _write(tmp_path / "d-00000-of-00001", [_good(0), _good(1)])
  _write(tmp_path / "d-00000-of-00001.tmp-999999", [_good(5)])
  shard_manifest.write(str(tmp_path / "d-of-00001.manifest.json"),
                       [(path, 2, tmp_path.joinpath("d-00000-of-00001").stat().st_size)], True)
  assert _ids(dataset_builder.build(_reader(str(tmp_path / "*")))) == [0, 1]


def test_missing_shard_of_a_manifest_is_named_at_start(tmp_path):
  from object_detection.dataset_tools import shard_manifest
  path = _write(tmp_path / "d-00000-of-00002", [_good(0)])
  shard_manifest.write(str(tmp_path / "d-of-00002.manifest.json"),
                       [(path, 1, tmp_path.joinpath("d-00000-of-00002").stat().st_size),
                        (str(tmp_path / "d-00001-of-00002"), 1, 100)], False)
  with pytest.raises(DataError, match=r"shard set .*d-of-00002.manifest.json is incomplete \(1 of "
                     r"2 shards missing: d-00001-of-00002\); the conversion that wrote it "
                     r"stopped while renaming"):
    dataset_builder.build(_reader(str(tmp_path / "d-?????-of-00002")),
                          field_path="train_input_reader")


def test_training_input_keeps_static_shapes_and_skips_bad_records(tmp_path):
  from object_detection import inputs
  from object_detection.protos import model_pb2, train_pb2
  path = _write(tmp_path / "d-00000-of-00001",
                [_good(0), _no_masks(1), _good(2), _bad_image(3), _good(4)])
  model = text_format.Parse(
      "center_net { num_classes: 3 image_resizer { fixed_shape_resizer { height: 16 width: 16 } } }",
      model_pb2.DetectionModel())
  train = text_format.Parse("batch_size: 3", train_pb2.TrainConfig())
  reader = _reader(path, "max_number_of_boxes: 4")
  dataset = inputs.train_input(train, reader, model,
                               preprocess_fn=lambda images: (
                                   tf.image.resize(images, [16, 16]),
                                   tf.constant([[16, 16, 3]], tf.int32)))
  features, labels = next(iter(dataset))
  assert features[F.image].shape == (3, 16, 16, 3)
  assert labels[F.groundtruth_instance_masks].shape == (3, 4, 16, 16)
  assert record_guard.health("train_input_reader").skipped_records == 2


def test_header_check_agrees_with_tensorflows_writer(tmp_path):
  from object_detection.data import record_files
  path = _write(tmp_path / "x", [b"abc", b"defgh"])
  data = open(path, "rb").read()
  assert record_files.header_problem(data[:12], len(data)) is None
  assert record_files.masked_crc32c(data[:8]) == int.from_bytes(data[8:12], "little")
  assert "checksum does not match" in record_files.header_problem(b"\x00" * 12, 100)
  assert record_files.header_problem(data[:12], 10).startswith("not a TFRecord file (10 bytes")
  assert record_files.header_problem(data[:12], 17).startswith("truncated: its first record "
                                                               "needs 19 bytes, the file has 17")
