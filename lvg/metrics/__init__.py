"""Evaluation metrics (spec evaluation.md).

- :mod:`lvg.metrics.i3d`: the Kinetics-400 Inception-I3D feature detector (verified weights, or the labelled
  ``i3d-random`` stand-in).
- :mod:`lvg.metrics.fvd`: Fréchet video distance, real-clip protocols and the real-statistics cache.
- :mod:`lvg.metrics.color_similarity`: the paper's colour similarity over time (Fig. 5).
"""
