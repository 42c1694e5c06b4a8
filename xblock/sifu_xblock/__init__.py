"""Sifu's reference XBlock: a learner's own Jupyter notebook inside an Open edX course unit."""
