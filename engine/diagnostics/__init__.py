"""Diagnostics of a dataset's labels from models trained on it: planted label noise (`noise`) and the label issues
found from out-of-fold predicted probabilities (`label_issues`). They train through the k-fold machinery
(`engine.crossval`), so every fold is a cached run; TensorFlow is imported only where a fold's model predicts.
"""
