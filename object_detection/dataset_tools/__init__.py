"""COCO / PASCAL VOC -> TFRecord conversion tools and the tf.train.Example helpers they use."""
