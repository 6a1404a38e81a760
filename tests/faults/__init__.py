"""Fault injection: a scriptable fake worker process (``tests.faults.fake_worker``)."""
