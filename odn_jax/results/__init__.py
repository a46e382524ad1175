"""What a finished run reports: the summary, report.md, plots, TensorBoard, evaluation."""
