"""Tests of retrain.pipelines; its step functions live in ``steps``."""
