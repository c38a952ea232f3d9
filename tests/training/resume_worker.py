"""A training process for the kill -9 / Ctrl-C resume tests (run as a subprocess).

argv: model_dir data_glob num_steps seed. Trains a tiny model that uses every kind of training
randomness (Dropout: a Keras seed generator; RoI-style box jitter: a step-keyed stateless op)
on the real input pipeline (TFRecords -> decode -> random_horizontal_flip -> block shuffle ->
batch), printing a flushed progress line per logged step. On Ctrl-C it exits with the status of
`TrainingInterrupted` (130) after the loop saved the current step.
"""

import sys

import keras
import numpy as np
import tensorflow as tf
from google.protobuf import text_format

from object_detection import inputs
from object_detection.core import fields
from object_detection.ops import box_jitter
from object_detection.protos import input_reader_pb2, model_pb2, train_pb2
from object_detection.training import interrupts
from object_detection.training import learning_schedules as ls
from object_detection.training import testing
from object_detection.training import train_loop

IN = fields.InputDataFields
NUM_CLASSES = 3


class RandomTinyModel(testing.TinyCenterModel):
  """TinyCenterModel + Dropout on the features + jittered ground-truth boxes in the loss."""

  def __init__(self):
    super().__init__(num_classes=NUM_CLASSES, seed=3)
    self.dropout = keras.layers.Dropout(0.3)

  def predict(self, preprocessed_inputs, true_image_shapes, groundtruth=None, training=False):
    features = self._feature_extractor(preprocessed_inputs, training=training)
    features = self.dropout(features, training=training)
    return {"features": features, "head": self.head(features)}

  def loss(self, prediction_dict, true_image_shapes, groundtruth, training=True):
    if training:
      boxes = groundtruth[IN.groundtruth_boxes]
      jittered = box_jitter.random_jitter_boxes(tf.reshape(boxes, [-1, 4]), 0.2)
      groundtruth = dict(groundtruth)
      groundtruth[IN.groundtruth_boxes] = tf.reshape(jittered, tf.shape(boxes))
    return super().loss(prediction_dict, true_image_shapes, groundtruth, training)


MODEL = f"""center_net {{ num_classes: {NUM_CLASSES}
  image_resizer {{ fixed_shape_resizer {{ height: 128 width: 128 }} }} }}"""
TRAIN = """batch_size: 2 data_augmentation_options { random_horizontal_flip { } }"""
READER = """shuffle: true shuffle_buffer_size: 3 num_readers: 2 read_block_length: 2
  load_instance_masks: true mask_type: PNG_MASKS max_number_of_boxes: 4
  tf_record_input_reader {{ input_path: "{glob}" }}"""


def main(model_dir, data_glob, num_steps, seed):
  model_config = text_format.Parse(MODEL, model_pb2.DetectionModel())
  train_config = text_format.Parse(TRAIN, train_pb2.TrainConfig())
  reader = text_format.Parse(READER.format(glob=data_glob), input_reader_pb2.InputReader())
  holder = {}

  def model_fn():
    holder["model"] = RandomTinyModel()
    return holder["model"]

  def optimizer_fn():
    schedule = ls.ConstantSchedule(0.01)
    return keras.optimizers.Adam(schedule), schedule

  preprocess = testing.TinyCenterModel(num_classes=NUM_CLASSES).preprocess

  def dataset_fn(ctx, data_seed, start):
    return inputs.train_input(train_config, reader, model_config, preprocess_fn=preprocess,
                              input_context=ctx, seed=data_seed, start=start)

  settings = train_loop.TrainSettings(num_steps=num_steps, checkpoint_every_n=3,
                                      steps_per_loop=2, log_every_n=2, num_summary_images=0,
                                      record_summaries=False, seed=seed)
  try:
    train_loop.train(model_fn, optimizer_fn, dataset_fn, model_dir, settings,
                     progress=lambda line: print(line, flush=True))
  except interrupts.TrainingInterrupted as e:
    print(e, file=sys.stderr, flush=True)
    return e.exit_status
  return 0


if __name__ == "__main__":
  np.set_printoptions(precision=4)
  sys.exit(main(sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])))
