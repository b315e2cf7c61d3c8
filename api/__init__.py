"""HTTP API and command line of SupportFlow."""
