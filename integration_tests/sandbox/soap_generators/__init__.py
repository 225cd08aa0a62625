"""Deterministic generators of the SOAP data set, assembled by ``soap_data.build_soap_data``."""
