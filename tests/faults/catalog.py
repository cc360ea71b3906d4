"""Tests outside tests/faults/ that belong to the fault suite (``make test-faults``, marker
``faults``): connector-level fault tests that already existed, marked here rather than copied.
tests/conftest.py adds the marker to every test whose node id starts with one of these; the
table of docs/reliability.md names them, and tests/faults/test_catalog.py checks both."""

FAULT_TESTS = (
    # every source, generated over the registry
    "tests/sources/test_contract.py::test_transient_failures_are_retried",
    "tests/sources/test_contract.py::test_expired_token_is_refreshed_or_stops_with_what_to_fix",
    "tests/sources/test_contract.py::test_token_that_stays_expired_stops_with_what_to_fix",
    "tests/sources/test_contract.py::test_wrong_token_is_fatal_not_retried",
    # platform throttles and errors in their own wire formats
    "tests/sources/test_hubspot.py::test_rate_limit_is_retried_after_retry_after",
    "tests/sources/test_hubspot.py::test_daily_limit_is_fatal",
    "tests/sources/test_hubspot.py::test_truncated_body_is_retried",
    "tests/sources/test_meta.py::test_throttle_as_http_400_is_retried",
    "tests/sources/test_meta.py::test_reduce_data_halves_the_page_size",
    "tests/sources/test_meta.py::test_high_usage_pauses_before_the_next_call",
    "tests/sources/test_meta.py::test_schema_drift_keeps_the_declared_columns",
    "tests/sources/test_google_ads.py::test_stream_error_element_is_detected_after_a_200",
    "tests/sources/test_google_ads.py::test_quota_retry_delay_is_the_wait",
    "tests/sources/test_google_ads.py::test_daily_quota_is_fatal_not_retried_for_hours",
    "tests/sources/test_linkedin.py::test_throttle_429_is_retried_with_the_same_request",
    "tests/sources/test_linkedin.py::test_schema_drift_keeps_the_declared_columns",
    "tests/sources/test_linkedin.py::test_malformed_record_is_stored_as_sent",
    "tests/sources/test_microsoft_ads.py::test_call_rate_exceeded_waits_and_retries",
    "tests/sources/test_microsoft_ads.py::test_download_failures_are_retried",
    "tests/sources/test_ecb.py::test_rate_limit_wait_is_the_retry_after_capped",
    "tests/sources/test_ecb.py::test_a_body_that_stays_unreadable_fails_after_the_retries",
    "tests/sources/test_offline.py::test_a_slow_server_times_out_and_is_retried",
    "tests/sources/test_salesforce.py::test_dead_query_locator_restarts_at_the_last_page",
    "tests/sources/test_salesforce.py::test_concurrent_limit_is_retried_but_the_daily_limit_stops",
    "tests/sources/test_salesforce_staging.py::test_request_limit_stop_keeps_loaded_pages_and_the_next_run_loses_nothing",
    # malformed values reach raw as sent and the raw suite quarantines them
    "tests/load/test_ecb_staging.py::test_stg_ecb__rates_equals_the_published_rates",
    "tests/load/test_offline_staging.py::test_sandbox_to_staging_quarantines_bad_lines_and_equals_the_world",
    # crashes and concurrent runs
    "tests/test_crash_rerun.py::test_crash_mid_stream_then_rerun",
    "tests/load/test_writer_lock.py::test_running_row_of_a_killed_run_becomes_abandoned",
    "tests/load/test_writer_lock.py::test_two_pipeline_runs_at_once_the_second_exits_the_first_publishes",
)
