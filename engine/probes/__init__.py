"""Probes of one stored run's model: calibration (`calibration`), robustness curves (`robustness`) and
explanations of single predictions (`explain`). Each reads a stored run and returns plain data; TensorFlow is
imported lazily, inside the functions that need a model.
"""
