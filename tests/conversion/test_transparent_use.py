"""The original's checkpoints used where a checkpoint is expected, without converting first:
fine-tuning (detection / fine_tune / full / classification), model_main_tf2 eval mode,
exporter_main_v2 (same signature as the original's SavedModel, plus ours) and deepmac-infer."""

import json
import pathlib

import numpy as np
import pytest
import tensorflow as tf
from tensorflow.python.tools import saved_model_utils

from object_detection import exporter_main_v2
from object_detection import inference
from object_detection import model_main_tf2
from object_detection.builders import conversion_builder
from object_detection.config import loader
from object_detection.conversion import object_graph
from object_detection.conversion import original_checkpoint
from object_detection.conversion.testing import expected_outputs, write_checkpoint
from object_detection.data import synthetic
from object_detection.training import checkpoints

TESTDATA = pathlib.Path(__file__).resolve().parents[1] / "testdata" / "conversion"
DEEPMAC = "deepmac_hg10_hourglass10_head"
CENTERNET = "centernet_hg10_detection"
LABEL_MAP = "".join(f'item {{ id: {i} name: "{n}" }}\n' for i, n in enumerate(
    ["circle", "rectangle", "triangle", "ellipse", "diamond"], start=1))


def _values(path):
  reader = tf.train.load_checkpoint(original_checkpoint.locate(str(path)))
  return lambda key: reader.get_tensor(key + object_graph.VALUE_SUFFIX)


@pytest.fixture(scope="module")
def deepmac(fixture_dirs):
  pipeline = loader.load_pipeline_config(str(fixture_dirs[DEEPMAC] / "pipeline.config"))
  return conversion_builder.build_with_variables(pipeline.model)


@pytest.mark.parametrize("kind", ["detection", "fine_tune"])
def test_detection_fine_tune_takes_the_backbone_of_a_centernet_detector(deepmac, fixture_dirs,
                                                                        kind):
  """The DeepMAC recipe: a CenterNet detector's backbone into DeepMAC (heads stay as built)."""
  variables = object_graph.canonical_variables({"model": deepmac})
  head = "model/_tasks/0/center_heads/0/out_conv/kernel"
  before = variables[head].numpy().copy()
  plan = checkpoints.restore_fine_tune(deepmac, str(fixture_dirs[CENTERNET]), kind)
  assert plan.complete and len(plan.pairs) == 70   # the hourglass_10 backbone
  assert all(k.startswith("model/_feature_extractor/") for k, _ in plan.pairs)
  value = _values(fixture_dirs[CENTERNET])
  for ours, original in plan.pairs:
    np.testing.assert_array_equal(variables[ours].numpy(), value(original))
  np.testing.assert_array_equal(variables[head].numpy(), before)


def test_full_fine_tune_takes_every_variable(deepmac, fixture_dirs):
  plan = checkpoints.restore_fine_tune(deepmac, str(fixture_dirs[DEEPMAC]), "full")
  assert plan.complete and len(plan.pairs) == 162
  variables = object_graph.canonical_variables({"model": deepmac})
  value = _values(fixture_dirs[DEEPMAC])
  for ours, original in plan.pairs:
    np.testing.assert_array_equal(variables[ours].numpy(), value(original))


@pytest.mark.slow
def test_classification_fine_tune_reads_a_keras2_resnet50_checkpoint(fixture_dirs, tmp_path):
  """A Keras-applications ResNet-50 checkpointed by the original's Keras 2 as
  `feature_extractor/layer_with_weights-K/...`: K follows Keras 2's layer order (listed from the
  original in testdata), each layer's values land in the layer of the same name here."""
  names = [l.strip() for l in (TESTDATA / "keras2_resnet50_weighted_layers.txt").read_text()
           .splitlines() if l.strip() and not l.startswith("#")]
  pipeline = loader.load_pipeline_config(
      str(fixture_dirs[CENTERNET] / "pipeline.config"),
      overrides=["model.center_net.feature_extractor.type=resnet_v1_50_fpn"])
  model = conversion_builder.build_with_variables(pipeline.model)
  base = model.feature_extractor.classification_backbone
  rng = np.random.default_rng(0)
  tensors, expected = {}, {}
  for k, name in enumerate(names):
    for weight in base.get_layer(name).weights:
      leaf = weight.name.rsplit("/", 1)[-1]
      value = rng.normal(size=weight.shape).astype(np.float32)
      tensors[f"feature_extractor/layer_with_weights-{k}/{leaf}{object_graph.VALUE_SUFFIX}"] = \
          value
      expected[(name, leaf)] = value
  prefix = write_checkpoint(tmp_path / "resnet50.ckpt-1", tensors)
  plan = checkpoints.restore_fine_tune(model, prefix, "classification")
  assert plan.complete and len(plan.pairs) == len(tensors) == 318
  for (name, leaf), value in expected.items():
    weight = next(w for w in base.get_layer(name).weights if w.name.endswith(leaf))
    np.testing.assert_array_equal(weight.numpy(), value, err_msg=f"{name}/{leaf}")


def _fixture_tfrecord(directory, fixture_dir):
  images = expected_outputs(fixture_dir)["images"]
  boxes = np.array([[0.2, 0.2, 0.6, 0.7], [0.5, 0.1, 0.9, 0.4]], np.float32)
  examples = [synthetic.make_example(image, boxes, class_texts=["circle", "diamond"],
                                     source_id=str(i)).SerializeToString()
              for i, image in enumerate(images[:2])]
  synthetic.write_tfrecord(str(directory / "val.tfrecord"), examples)
  (directory / "label_map.pbtxt").write_text(LABEL_MAP)
  return [f"eval_input_reader[0].tf_record_input_reader.input_path={directory / 'val.tfrecord'}",
          f"eval_input_reader[0].label_map_path={directory / 'label_map.pbtxt'}",
          "eval_input_reader[0].load_instance_masks=false"]


@pytest.mark.slow
def test_eval_mode_evaluates_a_zoo_directory_once(fixture_dirs, tmp_path):
  overrides = _fixture_tfrecord(tmp_path, fixture_dirs[CENTERNET])
  model_dir = tmp_path / "model"
  assert model_main_tf2.main([
      f"--pipeline_config_path={fixture_dirs[CENTERNET] / 'pipeline.config'}",
      f"--model_dir={model_dir}", f"--checkpoint_dir={fixture_dirs[CENTERNET]}",
      "eval_config.metrics_set=coco_detection_metrics"] + overrides) == 0
  metrics = json.loads((model_dir / "eval" / "metrics.json").read_text())
  assert metrics["step"] == 0
  assert "DetectionBoxes_Precision/mAP" in metrics["metrics"]


def _signatures(saved_model_dir):
  """{signature: ({input: (dtype, shape)}, {output: (dtype, shape)})} from saved_model.pb."""
  meta = saved_model_utils.get_meta_graph_def(str(saved_model_dir), "serve")

  def spec(info):
    shape = [d.size for d in info.tensor_shape.dim] if not info.tensor_shape.unknown_rank else None
    return tf.dtypes.as_dtype(info.dtype).name, shape

  return {name: ({k: spec(v) for k, v in sig.inputs.items()},
                 {k: spec(v) for k, v in sig.outputs.items()})
          for name, sig in meta.signature_def.items() if not name.startswith("__")}


@pytest.mark.slow
def test_export_of_a_zoo_directory_has_the_originals_signature(fixture_dirs, tmp_path):
  src = fixture_dirs[DEEPMAC]
  out = tmp_path / "exported"
  assert exporter_main_v2.main([
      "--input_type=image_tensor", f"--pipeline_config_path={src / 'pipeline.config'}",
      f"--trained_checkpoint_dir={src}", f"--output_directory={out}"]) == 0
  theirs = _signatures(src / "saved_model")
  ours = _signatures(out / "saved_model")
  assert sorted(ours) == ["image_and_boxes", "serving_default"]
  assert ours["serving_default"] == theirs["serving_default"]
  inputs, outputs = ours["image_and_boxes"]
  assert inputs == {"input_tensor": ("uint8", [1, -1, -1, 3]), "boxes": ("float32", [1, -1, 4])}
  assert outputs["detection_masks"] == ("float32", [1, -1, 32, 32])


@pytest.mark.slow
def test_inference_runs_our_model_on_a_zoo_directory(fixture_dirs, tmp_path):
  src = fixture_dirs[CENTERNET]
  expected = expected_outputs(src)
  path = tmp_path / "image.png"
  path.write_bytes(synthetic.encode_png(expected["images"][0]))
  results, overlays = inference.run_inference(str(src), [str(path)], str(tmp_path / "out"),
                                              min_score_thresh=0.0)
  assert len(overlays) == 1 and len(results) == int(expected["num_detections"][0])
  scores = sorted((r["score"] for r in results), reverse=True)
  np.testing.assert_allclose(scores, expected["detection_scores"][0], atol=1e-5)
