"""Input and output guards: normalisation, injection scoring, PII, release checks."""
