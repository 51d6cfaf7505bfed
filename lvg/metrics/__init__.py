"""Evaluation metrics: FVD (Kinetics-400 I3D) and colour similarity."""
