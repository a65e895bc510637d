"""cnmlab: Docker's Container Network Model, built for real in private Linux namespaces."""

__version__ = "0.1.0"
