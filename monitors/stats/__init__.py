"""Monitoring statistics: drift, data quality, performance, fairness and attribution drift.

Pure library code over Arrow tables, pandas frames or mappings of NumPy arrays; no database.
Every result is a frozen dataclass with ``to_dict()`` (JSON types, non-finite floats as None).
evidently, fairlearn, shap, torch and scikit-learn are imported lazily, only by the functions
that need them. Methods, defaults and measured errors: docs/statistics.md.

Public API (import from the submodules)::

    from monitors.stats.drift import build_reference_profile, compute_data_drift
    build_reference_profile(data, *, kinds=None, columns=None, bins=100) -> ReferenceProfile
    compute_data_drift(reference: ReferenceProfile, current, config: DriftConfig | None = None)
        -> DataDriftResult
    compute_prediction_drift(reference, current, *, column, methods=(None, "chebyshev"),
        config=None) -> tuple[ColumnDrift, ...]

    from monitors.stats.schemas import DriftConfig, Preset, StatTestName, Correction, Verdict
    DriftConfig(preset=Preset.evidently | Preset.azure | Preset.steward, method=, num_method=,
        cat_method=, per_column_method={}, threshold=, num_threshold=, cat_threshold=,
        per_column_threshold={}, drift_share=0.5, min_sample_size=30,
        correction=Correction.none | bonferroni | holm | benjamini_hochberg,
        alpha=0.05, min_window_rows=None,          # the last two: steward preset only
        chunk_thresholds={}, columns=None, max_workers=1)

    from monitors.stats.presets import compute_drift     # any preset; monitors call this
    compute_drift(reference, current, config) -> DataDriftResult
    from monitors.stats.steward_preset import compute_steward_drift, default_min_window_rows
    compute_steward_drift(reference, current, config=None) -> DataDriftResult
        # KS / contingency chi-square, corrected p-values against alpha, too-small windows
        # reported and never drifting (compute_data_drift refuses Preset.steward)

    from monitors.stats.correction import adjust_p_values
    from monitors.stats.thresholds import reference_chunk_thresholds
    reference_chunk_thresholds(reference, *, config=None, chunks=10, kinds=None)
        -> dict[str, ChunkThreshold]          # pass as DriftConfig(chunk_thresholds=...)

    from monitors.stats.quality import compute_data_quality, QualityThresholds
    compute_data_quality(reference: ReferenceProfile, current, thresholds=None)
        -> DataQualityResult

    from monitors.stats.performance import compute_performance, MetricThreshold, TaskType
    compute_performance(y_true, y_pred, *, task, y_score=None, pos_label=1, baseline=None,
        thresholds=None, min_sample_size=30) -> PerformanceResult

    from monitors.stats.fairness import compute_fairness, FairnessThresholds
    compute_fairness(y_true, y_pred, *, sensitive_features: Mapping[str, array], pos_label=1,
        thresholds=None, baseline=None) -> FairnessResult

    from monitors.stats.attribution import compute_feature_importance, compute_attribution_drift
    compute_feature_importance(model, data, *, feature_names, background=None,
        max_samples=1000, max_background=100, seed=0, kind=None) -> FeatureImportance
    compute_attribution_drift(reference, current, *, top_n=None, threshold=0.9)
        -> AttributionDriftResult

    from monitors.stats.profile import profile_window, merge_profiles, profile_from_dict
    profile_window(reference: ReferenceProfile, data) -> WindowProfile   # .merge(), .to_dict()
    from monitors.stats.profile_drift import compute_profile_drift
    compute_profile_drift(reference, window: WindowProfile, config=None) -> DataDriftResult

    from monitors.stats.report import render_drift_report
    render_drift_report(reference, current, result: DataDriftResult) -> str   # evidently HTML
"""
