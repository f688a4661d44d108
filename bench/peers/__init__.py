"""The baselines Parley is measured against, each the least that does the same job. They run as processes."""
