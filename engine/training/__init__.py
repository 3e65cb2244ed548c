"""Training: one spec on one dataset with one config.

`config` (TrainConfig), `data` (the exact arrays a run uses), `fit` (`train` and `TrainingResult`), `progress`
(`ProgressEvent`), `pipeline` (tf.data input), `precision` (float32 or bfloat16 hidden layers), `callbacks` (the
epoch watcher), `schedules`, `augmentation` and `tf_session` (releasing TensorFlow's leftovers). Importing this
package loads no TensorFlow: only `callbacks` imports Keras at its top, and `fit` imports it inside `train`.
"""
