"""Diagnostics of a dataset's labels from models trained on it: the label issues found from out-of-fold predicted
probabilities (`label_issues`), scored against planted label noise (`engine.datasets.noise`) when asked. They train
through the k-fold machinery (`engine.crossval`), so every fold is a cached run; TensorFlow is imported only where a
fold's model predicts.
"""
