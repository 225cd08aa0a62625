"""Throughput, memory and concurrency benchmark of `source-sfmc read` against the local sandbox."""
