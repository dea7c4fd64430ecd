"""Clustering estimators and guarded automatic model selection (scikit-learn compatible)."""
