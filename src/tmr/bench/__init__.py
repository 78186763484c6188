"""Workloads behind ``tmr bench`` and the dashboard's workload button (importable, no tests/
imports): the reference download experiment of REQUIREMENTS §1.7 with its nginx baseline."""
