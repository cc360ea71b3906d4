"""Data quality: Great Expectations suites stored as data, run on raw batches and built marts."""
